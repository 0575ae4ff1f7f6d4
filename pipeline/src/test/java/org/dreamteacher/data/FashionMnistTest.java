package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.CpuTensors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded subset, the folder loader, and the tensors made from them. */
class FashionMnistTest {
    static FashionMnist subset;

    @BeforeAll
    static void load() throws IOException {
        subset = FashionMnist.embeddedSubset();
    }

    @Test
    void embeddedSubsetIsBalanced() {
        assertEquals(6000, subset.train().size());
        assertEquals(1000, subset.test().size());
        for (int c : subset.train().countsPerClass()) assertEquals(600, c);
        for (int c : subset.test().countsPerClass()) assertEquals(100, c);
        ImageDataset t = subset.train();
        assertEquals(1, t.channels());
        assertEquals(28, t.height());
        assertEquals(28, t.width());
        assertEquals(10, t.numClasses());
        assertEquals("Ankle boot", t.classNames().get(9));
        assertFalse(t.isFloat());
        assertEquals("embedded subset", subset.source());
    }

    @Test
    void tensorsAreScaledAndTyped() {
        try (PointerScope scope = new PointerScope()) {
            int[] idx = {0, 5, 5999};
            Tensor x = subset.train().toTensor(idx);
            assertArrayEquals(new long[] {3, 1, 28, 28}, x.sizes().vec().get());
            assertEquals(ScalarType.Float, x.scalar_type().intern());
            float[] v = CpuTensors.toFloats(x);
            float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
            for (float f : v) {
                min = Math.min(min, f);
                max = Math.max(max, f);
            }
            assertEquals(-1f, min, 0f); // Fashion-MNIST backgrounds are 0
            assertTrue(max <= 1f && max > 0.5f);
            byte[] raw = new byte[784];
            subset.train().copyImageBytes(5, raw, 0);
            assertEquals((raw[300] & 0xFF) / 127.5f - 1f, v[784 + 300], 1e-6f);
            Tensor y = subset.train().labelsTensor(idx);
            assertEquals(ScalarType.Long, y.scalar_type().intern());
            assertArrayEquals(new long[] {subset.train().label(0), subset.train().label(5), subset.train().label(5999)}, CpuTensors.toLongs(y));
        }
    }

    @Test
    void folderRoundTripAndErrors(@TempDir Path dir) throws IOException {
        ImageDataset small = subset.test().subset(new int[] {3, 1, 4, 1, 5});
        FashionMnist.write(small, dir, FashionMnist.Split.TRAIN);
        FashionMnist.write(subset.test().subset(new int[] {9, 2}), dir, FashionMnist.Split.TEST);
        assertTrue(FashionMnist.isInstalled(dir));
        FashionMnist back = FashionMnist.load(dir);
        assertEquals(5, back.train().size());
        assertEquals(2, back.test().size());
        byte[] a = new byte[784], b = new byte[784];
        small.copyImageBytes(2, a, 0);
        back.train().copyImageBytes(2, b, 0);
        assertArrayEquals(a, b);
        assertEquals(small.label(2), back.train().label(2));

        Files.delete(dir.resolve("t10k-labels-idx1-ubyte.gz"));
        assertFalse(FashionMnist.isInstalled(dir));
        DataException e = assertThrows(DataException.class, () -> FashionMnist.load(dir));
        assertTrue(e.getMessage().contains("t10k-labels-idx1-ubyte"), e.getMessage());
        assertThrows(DataException.class, () -> FashionMnist.load(dir.resolve("absent")));
    }

}
