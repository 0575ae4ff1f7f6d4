package org.dreamteacher.torch;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Copies between Java arrays and CPU tensors. */
public final class CpuTensors {
    private CpuTensors() {}

    /** A 1-D int64 CPU tensor holding a copy of {@code values}. */
    public static Tensor longs(long[] values) {
        return longs(values, values.length);
    }

    /**
     * An int64 CPU tensor of {@code shape} (no sizes: a 0-dimensional tensor of one value) holding a copy of
     * {@code values}. The tensor belongs to the caller's {@code PointerScope}, if any.
     *
     * @throws IllegalArgumentException when the shape has a negative size or does not hold exactly
     *         {@code values.length} elements
     */
    public static Tensor longs(long[] values, long... shape) {
        Tensor t = empty(ScalarType.Long, values.length, shape);
        if (values.length > 0) t.data_ptr_long().put(values);
        return t;
    }

    /** A 1-D float32 CPU tensor holding a copy of {@code values}. */
    public static Tensor floats(float[] values) {
        return floats(values, values.length);
    }

    /** A float32 CPU tensor of {@code shape} holding a copy of {@code values}, as {@link #longs(long[], long...)}. */
    public static Tensor floats(float[] values, long... shape) {
        Tensor t = empty(ScalarType.Float, values.length, shape);
        if (values.length > 0) t.data_ptr_float().put(values);
        return t;
    }

    /** The tensor's values as float32 in row-major order (copied to the CPU and made contiguous if needed). */
    public static float[] toFloats(Tensor t) {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            Tensor c = t.detach().cpu().to(ScalarType.Float).contiguous();
            float[] out = new float[Math.toIntExact(c.numel())];
            if (out.length > 0) c.data_ptr_float().get(out);
            return out;
        }
    }

    /** The tensor's values as int64 in row-major order (copied to the CPU and made contiguous if needed). */
    public static long[] toLongs(Tensor t) {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            Tensor c = t.detach().cpu().to(ScalarType.Long).contiguous();
            long[] out = new long[Math.toIntExact(c.numel())];
            if (out.length > 0) c.data_ptr_long().get(out);
            return out;
        }
    }

    /** The tensor's sizes. */
    public static long[] shape(Tensor t) {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            return t.sizes().vec().get();
        }
    }

    private static Tensor empty(ScalarType type, int length, long[] dims) {
        long numel = 1;
        for (long d : dims) {
            if (d < 0) throw new IllegalArgumentException("negative size in shape " + java.util.Arrays.toString(dims));
            numel = Math.multiplyExact(numel, d);
        }
        if (numel != length)
            throw new IllegalArgumentException("shape " + java.util.Arrays.toString(dims) + " holds " + numel + " elements, got " + length);
        TorchRuntime.init();
        return torch.empty(dims, new TensorOptions(type), new MemoryFormatOptional());
    }
}
