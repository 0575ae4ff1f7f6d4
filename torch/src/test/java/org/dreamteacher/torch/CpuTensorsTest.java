package org.dreamteacher.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

class CpuTensorsTest {
    @Test
    void longsCopiesTheValuesIntoTheGivenShape() {
        try (PointerScope scope = new PointerScope()) {
            long[] values = {3, -1, Long.MAX_VALUE, 0, 7, Long.MIN_VALUE};
            Tensor t = CpuTensors.longs(values, 2, 3);
            assertEquals(ScalarType.Long, t.scalar_type().intern());
            assertTrue(t.is_contiguous());
            assertArrayEquals(new long[] {2, 3}, t.sizes().vec().get());
            long[] back = new long[6];
            t.data_ptr_long().get(back);
            assertArrayEquals(values, back);
            values[0] = 99; // a copy, not a view of the array
            assertEquals(3, t.data_ptr_long().get(0));
        }
    }

    @Test
    void withoutAShapeTheTensorIsOneDimensional() {
        try (PointerScope scope = new PointerScope()) {
            assertArrayEquals(new long[] {4}, CpuTensors.longs(new long[] {1, 2, 3, 4}).sizes().vec().get());
            Tensor empty = CpuTensors.longs(new long[0]);
            assertArrayEquals(new long[] {0}, empty.sizes().vec().get());
            assertArrayEquals(new long[] {0, 5}, CpuTensors.longs(new long[0], 0, 5).sizes().vec().get());
            Tensor scalar = CpuTensors.floats(new float[] {2.5f}, new long[0]);
            assertEquals(0, scalar.dim(), "an empty shape is a 0-dimensional tensor");
            assertArrayEquals(new float[] {2.5f}, CpuTensors.toFloats(scalar));
        }
    }

    @Test
    void valuesComeBackFromAnyLayoutAndType() {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = CpuTensors.floats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).t(); // not contiguous
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, CpuTensors.toFloats(t));
            assertArrayEquals(new long[] {1, 4, 2, 5, 3, 6}, CpuTensors.toLongs(t));
            assertArrayEquals(new long[] {3, 2}, CpuTensors.shape(t));
        }
    }

    @Test
    void aShapeThatDoesNotHoldTheValuesIsRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> CpuTensors.longs(new long[] {1, 2, 3}, 2, 2));
        assertEquals("shape [2, 2] holds 4 elements, got 3", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CpuTensors.longs(new long[] {1, 2}, -1, -2));
        assertThrows(IllegalArgumentException.class, () -> CpuTensors.floats(new float[] {1, 2}, new long[0]));
    }
}
