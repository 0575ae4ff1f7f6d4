package org.dreamteacher.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * 16 Java threads call each cpu kernel 10,000 times at once, each on its own buffers: every result (loss and
 * gradient, bit for bit) equals the single-threaded result on the same buffers, nothing crashes, and the
 * process's resident memory is flat over one of up to three measured runs of 480,000 calls each
 * ({@link ResidentMemory}; within 8 MB: a leak of one 16-byte {@code malloc} per call, put into the C ABI on
 * purpose, grew each of the three runs by 15 MB and failed).
 */
class ConcurrencyTest {
    private static final int THREADS = 16;
    private static final int CALLS = 10_000; // per kernel and thread
    private static final int WINDOWS = 3;
    private static final long ALLOWED_GROWTH_KB = 8 * 1024;

    // Small shapes so that 16 x 3 x 10,000 calls take seconds: whitened MSE (2,4,4,4), attention transfer
    // (2,4,4,4) vs (2,3,4,4), soft-target CE (8,10) logits.
    private static final int N = 2, C = 4, CT = 3, H = 4, W = 4;
    private static final int STUDENT = N * C * H * W, TEACHER_AT = N * CT * H * W;
    private static final int CE_N = 8, CE_K = 10;

    /** One thread's buffers and its single-threaded reference results. */
    private static final class Worker implements AutoCloseable {
        final FloatPointer student, teacher, teacherAt, logitsS, logitsT, loss, grad;
        final float[][] refLoss = new float[3][1];
        final float[][] refGrad = new float[3][];

        Worker(int id) {
            student = new FloatPointer(TestArrays.gaussian(10L * id + 1, STUDENT, 1.5, 0.2));
            teacher = new FloatPointer(TestArrays.gaussian(10L * id + 2, STUDENT, 0.7, -0.1));
            teacherAt = new FloatPointer(TestArrays.gaussian(10L * id + 3, TEACHER_AT, 1.0, 0));
            logitsS = new FloatPointer(TestArrays.gaussian(10L * id + 4, CE_N * CE_K, 3.0, 0));
            logitsT = new FloatPointer(TestArrays.gaussian(10L * id + 5, CE_N * CE_K, 3.0, 0));
            loss = new FloatPointer(1);
            grad = new FloatPointer(STUDENT);
        }

        int gradCount(int kernel) {
            return kernel == 2 ? CE_N * CE_K : STUDENT;
        }

        void call(LossKernels cpu, int kernel) {
            switch (kernel) {
                case 0 -> cpu.whitenedMse(student.address(), teacher.address(), N, C, H, W, WhitenMode.PER_SAMPLE,
                        1e-5f, 0.5f, loss.address(), grad.address(), 0);
                case 1 -> cpu.attentionTransfer(student.address(), C, teacherAt.address(), CT, N, H, W, 2f,
                        AttentionDistance.SQUARED, 1e-12f, 10f, loss.address(), grad.address(), 0);
                default -> cpu.softTargetCe(logitsS.address(), logitsT.address(), CE_N, CE_K, 1, 4f, 16f,
                        loss.address(), grad.address(), 0);
            }
        }

        void recordReference(LossKernels cpu) {
            for (int k = 0; k < 3; k++) {
                call(cpu, k);
                refLoss[k][0] = loss.get(0);
                refGrad[k] = new float[gradCount(k)];
                grad.get(refGrad[k]);
            }
        }

        /** Runs the calls; returns how many results differed from the reference (bitwise). */
        long run(LossKernels cpu) {
            long mismatches = 0;
            float[][] got = {new float[STUDENT], new float[STUDENT], new float[CE_N * CE_K]};
            for (int i = 0; i < CALLS; i++) {
                for (int k = 0; k < 3; k++) {
                    call(cpu, k);
                    grad.get(got[k]);
                    if (Float.floatToRawIntBits(loss.get(0)) != Float.floatToRawIntBits(refLoss[k][0])) mismatches++;
                    for (int j = 0; j < got[k].length; j++) {
                        if (Float.floatToRawIntBits(got[k][j]) != Float.floatToRawIntBits(refGrad[k][j])) {
                            mismatches++;
                            break;
                        }
                    }
                }
            }
            return mismatches;
        }

        @Override
        public void close() {
            student.close();
            teacher.close();
            teacherAt.close();
            logitsS.close();
            logitsT.close();
            loss.close();
            grad.close();
        }
    }

    private static long[] runAll(LossKernels cpu, List<Worker> workers) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Long>> futures = new ArrayList<>();
            for (Worker w : workers) {
                futures.add(pool.submit(() -> {
                    start.await();
                    return w.run(cpu);
                }));
            }
            start.countDown(); // all threads start calling at once
            long[] mismatches = new long[workers.size()];
            for (int i = 0; i < futures.size(); i++) mismatches[i] = futures.get(i).get(5, TimeUnit.MINUTES);
            return mismatches;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void assertAllMatch(long[] mismatches, String run) {
        for (int i = 0; i < mismatches.length; i++) {
            assertEquals(0, mismatches[i], run + ", thread " + i + ": results differ from the single-threaded run");
        }
    }

    @Test
    void sixteenThreadsGetTheSingleThreadedResultsWithFlatMemory() throws Exception {
        LossKernels cpu = Backends.get("cpu");
        List<Worker> workers = new ArrayList<>();
        for (int i = 0; i < THREADS; i++) workers.add(new Worker(i));
        try {
            NativeLibrary.setNumThreads(1); // the reference: one thread, no kernel worker threads either
            try {
                for (Worker w : workers) w.recordReference(cpu);
            } finally {
                NativeLibrary.setNumThreads(0);
            }
            // Warm-up (thread pool, per-thread scratch, JIT), then measured windows of the same run.
            long started = System.nanoTime();
            assertAllMatch(runAll(cpu, workers), "warm-up");
            int[] window = {0};
            ResidentMemory.assertFlat("concurrency", WINDOWS, ALLOWED_GROWTH_KB, () -> {
                window[0]++;
                assertAllMatch(runAll(cpu, workers), "window " + window[0]);
            });
            System.out.printf("concurrency: %d threads x %d calls x 3 kernels, %d runs in %.1f s%n",
                    THREADS, CALLS, window[0] + 1, (System.nanoTime() - started) / 1e9);
        } finally {
            for (Worker w : workers) w.close();
        }
    }
}
