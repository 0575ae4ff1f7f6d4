package org.dreamteacher.torch.kernels;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;

/** Test inputs made from Java arrays (deterministic, independent of libtorch's generator). */
final class TestData {
    static {
        TorchRuntime.init();
    }

    private TestData() {}

    /** A float32 CPU tensor holding a copy of the values. */
    static Tensor floats(float[] values, long... shape) {
        Tensor t = torch.empty(shape, new TensorOptions(ScalarType.Float), new MemoryFormatOptional());
        t.data_ptr_float().put(values);
        return t;
    }

    /** A float64 CPU tensor holding the same values (exactly). */
    static Tensor doubles(float[] values, long... shape) {
        return floats(values, shape).to(ScalarType.Double);
    }

    static float[] toFloats(Tensor t) {
        Tensor c = t.to(ScalarType.Float).contiguous();
        float[] a = new float[(int) c.numel()];
        c.data_ptr_float().get(a);
        return a;
    }

    static double[] toDoubles(Tensor t) {
        Tensor c = t.to(ScalarType.Double).contiguous();
        double[] a = new double[(int) c.numel()];
        c.data_ptr_double().get(a);
        return a;
    }

    static double maxAbs(double[] a) {
        double m = 0;
        for (double v : a) m = Math.max(m, Math.abs(v));
        return m;
    }

    static double maxAbsDiff(float[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
