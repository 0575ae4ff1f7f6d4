package org.dreamteacher.torch;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** New CPU tensors that hold a copy of Java arrays. */
public final class CpuTensors {
    private CpuTensors() {}

    /**
     * An int64 CPU tensor holding a copy of {@code values}, of the given shape, or 1-D of {@code values.length}
     * when no shape is given. The tensor belongs to the caller's {@code PointerScope}, if any.
     *
     * @throws IllegalArgumentException when the shape has a negative size or does not hold exactly
     *         {@code values.length} elements
     */
    public static Tensor longs(long[] values, long... shape) {
        long[] dims = shape.length == 0 ? new long[] {values.length} : shape;
        long numel = 1;
        for (long d : dims) {
            if (d < 0) throw new IllegalArgumentException("negative size in shape " + java.util.Arrays.toString(dims));
            numel = Math.multiplyExact(numel, d);
        }
        if (numel != values.length)
            throw new IllegalArgumentException("shape " + java.util.Arrays.toString(dims) + " holds " + numel + " elements, got " + values.length);
        TorchRuntime.init();
        Tensor t = torch.empty(dims, new TensorOptions(ScalarType.Long), new MemoryFormatOptional());
        if (values.length > 0) t.data_ptr_long().put(values);
        return t;
    }
}
