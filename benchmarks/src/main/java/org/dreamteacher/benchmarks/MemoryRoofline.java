package org.dreamteacher.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * STREAM-like copy and triad over arrays holding as many bytes as the kernel of the subclass must move (its
 * inputs read once and its gradient written once), on all cores: the memory roofline that the kernel's
 * effective bandwidth is compared with, measured in the same run.
 */
@State(Scope.Benchmark)
public abstract class MemoryRoofline {
    private float[][] triad;
    private float[][] copy;
    private ExecutorService pool;
    private int threads;

    /** Bytes the kernel must read and write per call, for the current parameters. */
    protected abstract long bytesMoved();

    @Setup(Level.Trial)
    public void setUpRoofline() {
        int triadLength = Math.toIntExact(bytesMoved() / 4 / 3);
        int copyLength = Math.toIntExact(bytesMoved() / 4 / 2);
        triad = new float[][] {new float[triadLength], filled(triadLength, 1f), filled(triadLength, 2f)};
        copy = new float[][] {new float[copyLength], filled(copyLength, 3f)};
        threads = Runtime.getRuntime().availableProcessors();
        pool = Executors.newFixedThreadPool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDownRoofline() {
        pool.shutdownNow();
    }

    private static float[] filled(int length, float value) {
        float[] a = new float[length];
        java.util.Arrays.fill(a, value);
        return a;
    }

    /** a = b + 3·c, split in equal contiguous parts over all cores. */
    @Benchmark
    public float streamTriad() throws Exception {
        float[] a = triad[0], b = triad[1], c = triad[2];
        runParallel(a.length, (from, to) -> {
            for (int i = from; i < to; i++) a[i] = b[i] + 3f * c[i];
        });
        return a[a.length - 1];
    }

    /** a = b, split in equal contiguous parts over all cores. */
    @Benchmark
    public float streamCopy() throws Exception {
        float[] a = copy[0], b = copy[1];
        runParallel(a.length, (from, to) -> System.arraycopy(b, from, a, from, to - from));
        return a[a.length - 1];
    }

    private interface Range {
        void run(int from, int to);
    }

    private void runParallel(int length, Range body) throws InterruptedException, ExecutionException {
        List<Callable<Void>> parts = new ArrayList<>(threads);
        for (int t = 0; t < threads; t++) {
            int from = (int) ((long) length * t / threads), to = (int) ((long) length * (t + 1) / threads);
            parts.add(() -> {
                body.run(from, to);
                return null;
            });
        }
        for (Future<Void> f : pool.invokeAll(parts)) f.get();
    }
}
