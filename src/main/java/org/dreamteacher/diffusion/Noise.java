package org.dreamteacher.diffusion;

import java.util.SplittableRandom;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;

/**
 * The random numbers of diffusion training, sampling and encoding, drawn in Java from a seeded
 * {@link SplittableRandom} and copied into tensors. Keeping them out of libtorch's global generator makes a
 * seeded run bit-identical from run to run whatever else uses libtorch in the process, and the stream of
 * numbers independent of libtorch's thread count and version. Not thread-safe: one instance per thread.
 */
public final class Noise {
    private final SplittableRandom random;

    public Noise(long seed) {
        TorchRuntime.init();
        this.random = new SplittableRandom(seed);
    }

    /** Standard normal float32 values of the given shape. */
    public Tensor normal(long... shape) {
        float[] values = new float[count(shape)];
        for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
        Tensor t = torch.empty(shape, new TensorOptions(ScalarType.Float), new MemoryFormatOptional());
        if (values.length > 0) t.data_ptr_float().put(values);
        return t;
    }

    /** Standard normal float32 values shaped like {@code like}. */
    public Tensor normalLike(Tensor like) {
        return normal(like.sizes().vec().get());
    }

    /** {@code n} int64 values drawn uniformly from [0, bound). */
    public Tensor uniformInts(int n, int bound) {
        if (n < 0 || bound < 1) throw new IllegalArgumentException("uniformInts needs n >= 0 and bound >= 1, got " + n + ", " + bound);
        long[] values = new long[n];
        for (int i = 0; i < n; i++) values[i] = random.nextInt(bound);
        Tensor t = torch.empty(new long[] {n}, new TensorOptions(ScalarType.Long), new MemoryFormatOptional());
        if (n > 0) t.data_ptr_long().put(values);
        return t;
    }

    /** An independent stream, for example one per data-loader worker. */
    public Noise split() {
        return new Noise(random.split());
    }

    private Noise(SplittableRandom random) {
        this.random = random;
    }

    private static int count(long[] shape) {
        long c = 1;
        for (long s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative size in shape " + java.util.Arrays.toString(shape));
            c = Math.multiplyExact(c, s);
        }
        if (c > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape) + " is too large");
        return (int) c;
    }
}
