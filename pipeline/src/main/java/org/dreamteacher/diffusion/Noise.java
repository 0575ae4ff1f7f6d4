package org.dreamteacher.diffusion;

import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.CpuTensors;
import org.dreamteacher.torch.TorchRuntime;

/**
 * The random numbers of diffusion training, sampling and encoding, drawn in Java from a seeded
 * {@link SplittableRandom} and copied into tensors. Keeping them out of libtorch's global generator makes a
 * seeded run bit-identical from run to run whatever else uses libtorch in the process, and the stream of
 * numbers independent of libtorch's thread count and version. Not thread-safe: one instance per thread.
 */
public final class Noise {
    private final SplittableRandom random;
    private final int rowOffset;
    private final int globalRows;

    public Noise(long seed) {
        TorchRuntime.init();
        this.random = new SplittableRandom(seed);
        this.rowOffset = 0;
        this.globalRows = 0;
    }

    /**
     * The noise of rows {@code [offset, offset + n)} of a batch of {@code globalRows} rows: each draw whose
     * first dimension is n draws the values of the whole batch, as {@code new Noise(seed)} would, and keeps
     * those rows. A data-parallel rank holding a shard of a global batch thus gets exactly the noise its rows
     * would get in a single process; with offset 0 and {@code n == globalRows} it equals {@code new Noise(seed)}.
     */
    public static Noise rows(long seed, int offset, int globalRows) {
        if (offset < 0 || globalRows < 1 || offset >= globalRows)
            throw new IllegalArgumentException("rows " + offset + " of " + globalRows);
        return new Noise(seed, offset, globalRows);
    }

    private Noise(long seed, int offset, int globalRows) {
        TorchRuntime.init();
        this.random = new SplittableRandom(seed);
        this.rowOffset = offset;
        this.globalRows = globalRows;
    }

    /** Whether a draw of this shape stands for rows of a larger batch. */
    private boolean sharded(long[] shape) {
        return globalRows > 0 && shape.length > 0 && shape[0] != globalRows;
    }

    /** Standard normal float32 values of the given shape. */
    public Tensor normal(long... shape) {
        float[] values = new float[count(shape)];
        if (sharded(shape)) {
            if (rowOffset + shape[0] > globalRows) throw new IllegalArgumentException("rows " + rowOffset + " + " + shape[0] + " exceed " + globalRows);
            long[] all = shape.clone();
            all[0] = globalRows;
            int per = shape[0] == 0 ? 0 : values.length / (int) shape[0];
            int skip = rowOffset * per, total = count(all);
            for (int i = 0; i < total; i++) {
                float v = (float) random.nextGaussian();
                if (i >= skip && i - skip < values.length) values[i - skip] = v;
            }
        } else {
            for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
        }
        return CpuTensors.floats(values, shape);
    }

    /** Standard normal float32 values shaped like {@code like}. */
    public Tensor normalLike(Tensor like) {
        return normal(like.sizes().vec().get());
    }

    /** {@code n} int64 values drawn uniformly from [0, bound). */
    public Tensor uniformInts(int n, int bound) {
        if (n < 0 || bound < 1) throw new IllegalArgumentException("uniformInts needs n >= 0 and bound >= 1, got " + n + ", " + bound);
        long[] values = new long[n];
        if (sharded(new long[] {n})) {
            if (rowOffset + n > globalRows) throw new IllegalArgumentException("rows " + rowOffset + " + " + n + " exceed " + globalRows);
            for (int i = 0; i < globalRows; i++) {
                int v = random.nextInt(bound);
                if (i >= rowOffset && i - rowOffset < n) values[i - rowOffset] = v;
            }
        } else {
            for (int i = 0; i < n; i++) values[i] = random.nextInt(bound);
        }
        return CpuTensors.longs(values);
    }

    /** An independent stream, for example one per data-loader worker. */
    public Noise split() {
        return new Noise(random.split());
    }

    private Noise(SplittableRandom random) {
        this.random = random;
        this.rowOffset = 0;
        this.globalRows = 0;
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
