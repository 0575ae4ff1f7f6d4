package org.dreamteacher.benchmarks;

import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.torch.TorchRuntime;

/** Shared set-up of the kernel benchmarks: inputs as libtorch tensors and their raw host addresses. */
final class KernelState {
    private KernelState() {}

    static {
        TorchRuntime.init();
    }

    static LossKernels cpu() {
        return Backends.get("cpu");
    }

    static LossKernels reference() {
        return Backends.get("reference");
    }

    /** Parses "64x256x16x16" into {64, 256, 16, 16} (no commas: JMH splits -p values on them). */
    static long[] shape(String spec) {
        String[] parts = spec.split("x");
        long[] shape = new long[parts.length];
        for (int i = 0; i < parts.length; i++) shape[i] = Long.parseLong(parts[i].trim());
        return shape;
    }

    static long count(long[] shape) {
        long c = 1;
        for (long s : shape) c *= s;
        return c;
    }

    /** A standard-normal float32 tensor (seeded, so every fork sees the same data). */
    static Tensor randn(long seed, long... shape) {
        torch.manual_seed(seed);
        return torch.randn(shape);
    }

    static long address(Tensor t) {
        return t.data_ptr().address();
    }

    /** Host buffer of {@code count} floats, filled with Gaussian noise. */
    static FloatPointer noise(long seed, long count) {
        FloatPointer p = new FloatPointer(count);
        Random r = new Random(seed);
        for (long i = 0; i < count; i++) p.put(i, (float) r.nextGaussian());
        return p;
    }
}
