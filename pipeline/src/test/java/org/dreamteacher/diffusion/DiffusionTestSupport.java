package org.dreamteacher.diffusion;

import java.util.List;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;

/** Tiny configs, deterministic inputs and helpers shared by the diffusion tests. */
final class DiffusionTestSupport {
    static {
        TorchRuntime.init();
    }

    private DiffusionTestSupport() {}

    /** 1x16x16, levels 8-16, one residual block per level, no attention: the cheapest useful U-Net. */
    static UNetConfig tinyConfig() {
        return new UNetConfig(1, 1, 16, 8, List.of(1, 2), 1, List.of(), 4, 0, false, 0.0, 0, 4, List.of(2));
    }

    static Tensor floats(float[] values, long... shape) {
        Tensor t = torch.empty(shape, new TensorOptions(ScalarType.Float), new MemoryFormatOptional());
        t.data_ptr_float().put(values);
        return t;
    }

    static float[] toFloats(Tensor t) {
        Tensor c = t.to(ScalarType.Float).contiguous();
        float[] a = new float[(int) c.numel()];
        c.data_ptr_float().get(a);
        return a;
    }

    static long[] shape(Tensor t) {
        return t.sizes().vec().get();
    }

    static Tensor longs(long... values) {
        return torch.tensor(values).to(ScalarType.Long);
    }

    /**
     * {@code n} simple 16x16 grey patterns in [-1, 1] (stripes, checkerboards, squares, a disc), different
     * enough from each other to be memorised.
     */
    static Tensor patterns(int n, int size) {
        float[] v = new float[n * size * size];
        for (int k = 0; k < n; k++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++) {
                    boolean on = switch (k % 8) {
                        case 0 -> (x / 2) % 2 == 0; // vertical stripes
                        case 1 -> (y / 2) % 2 == 0; // horizontal stripes
                        case 2 -> ((x / 4) + (y / 4)) % 2 == 0; // checkerboard
                        case 3 -> x >= 4 && x < 12 && y >= 4 && y < 12; // square
                        case 4 -> (x - 7.5) * (x - 7.5) + (y - 7.5) * (y - 7.5) < 25; // disc
                        case 5 -> x > y; // diagonal half
                        case 6 -> x < size / 2; // left half
                        default -> ((x + y) / 3) % 2 == 0; // diagonal stripes
                    };
                    v[(k * size + y) * size + x] = on ? 1f : -1f;
                }
        return floats(v, n, 1, size, size);
    }

    /** Adds small Gaussian noise to every parameter, so that zero-initialised layers stop hiding the rest. */
    static void perturb(Module m, long seed, double scale) {
        Noise noise = new Noise(seed);
        try (NoGradGuard ng = new NoGradGuard()) {
            StringTensorDict params = m.named_parameters(true);
            for (long i = 0; i < params.size(); i++) {
                Tensor p = params.get(i).value();
                p.add_(noise.normalLike(p).mul(new Scalar(scale)));
            }
        }
    }

    static double maxAbs(Tensor t) {
        return t.abs().max().item_double();
    }

    static boolean allFinite(Tensor t) {
        return torch.isfinite(t).all().item_bool();
    }
}
