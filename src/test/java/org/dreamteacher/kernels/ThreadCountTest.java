package org.dreamteacher.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The CPU kernels give bit-identical loss and gradient for 1 thread, all threads and an odd oversubscription. */
class ThreadCountTest {
    private static final LossKernels CPU = Backends.get("cpu");

    @AfterEach
    void restore() {
        NativeLibrary.setNumThreads(0);
    }

    /** Runs the kernel with the given thread count and returns loss followed by gradient. */
    private static float[] run(int threads, int gradLength, Call call) {
        NativeLibrary.setNumThreads(threads);
        assertEquals(threads, NativeLibrary.numThreads());
        try (FloatPointer loss = new FloatPointer(1); FloatPointer grad = new FloatPointer(gradLength)) {
            call.run(loss.address(), grad.address());
            float[] out = new float[gradLength + 1];
            out[0] = loss.get(0);
            grad.get(out, 1, gradLength);
            return out;
        }
    }

    interface Call {
        void run(long loss, long grad);
    }

    private static void assertSameForAnyThreadCount(String label, int gradLength, Call call) {
        int all = Math.max(2, Runtime.getRuntime().availableProcessors());
        float[] one = run(1, gradLength, call);
        for (int threads : new int[] {all, 3, 7}) {
            assertArrayEquals(one, run(threads, gradLength, call), label + " with " + threads + " threads");
        }
    }

    @Test
    void whitenedMse() {
        for (long[] d : new long[][] {{1, 64, 96, 96}, {8, 256, 16, 16}, {3, 5, 7, 11}}) {
            int count = TestArrays.count(d);
            try (FloatPointer s = new FloatPointer(TestArrays.gaussian(1, count, 1, 0));
                    FloatPointer t = new FloatPointer(TestArrays.gaussian(2, count, 3, 1))) {
                for (WhitenMode mode : WhitenMode.values()) {
                    assertSameForAnyThreadCount("whitened MSE " + mode, count, (l, g) -> CPU.whitenedMse(s.address(),
                            t.address(), d[0], d[1], d[2], d[3], mode, 1e-5f, 1f, l, g, 0));
                }
            }
        }
    }

    @Test
    void attentionTransfer() {
        long n = 16, cs = 64, ct = 96, h = 32, w = 32;
        int sCount = TestArrays.count(n, cs, h, w);
        try (FloatPointer s = new FloatPointer(TestArrays.gaussian(3, sCount, 1, 0));
                FloatPointer t = new FloatPointer(TestArrays.gaussian(4, TestArrays.count(n, ct, h, w), 1, 0))) {
            for (AttentionDistance distance : AttentionDistance.values()) {
                for (float p : new float[] {1f, 2f, 3f, 3.5f}) {
                    assertSameForAnyThreadCount("attention transfer " + distance + " p=" + p, sCount,
                            (l, g) -> CPU.attentionTransfer(s.address(), cs, t.address(), ct, n, h, w, p, distance,
                                    1e-12f, 1f, l, g, 0));
                }
            }
        }
    }

    @Test
    void softTargetCe() {
        for (long[] d : new long[][] {{4096, 1000, 1}, {16, 21, 4096}, {3, 7, 5}}) {
            int count = TestArrays.count(d);
            try (FloatPointer s = new FloatPointer(TestArrays.gaussian(5, count, 2, 0));
                    FloatPointer t = new FloatPointer(TestArrays.gaussian(6, count, 2, 0))) {
                assertSameForAnyThreadCount("soft-target CE " + java.util.Arrays.toString(d), count,
                        (l, g) -> CPU.softTargetCe(s.address(), t.address(), d[0], d[1], d[2], 4f, 1f, l, g, 0));
            }
        }
    }
}
