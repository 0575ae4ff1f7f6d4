package org.dreamteacher.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The {@code float[]} and {@code FloatBuffer} forms of {@link LossKernels}, without libtorch: against the
 * formulas written out in Java double precision ({@link JavaOracle}), on the cpu backend's own (pinned-array)
 * path and on the generic path that any host backend inherits (copies through the raw-address form), and their
 * argument checks.
 */
class ArrayApiTest {
    private static final LossKernels CPU = Backends.get("cpu");

    /** A host backend with only the raw-address form: the array and buffer forms are the interface's defaults. */
    private static final LossKernels GENERIC = new LossKernels() {
        @Override
        public String name() {
            return "generic";
        }

        @Override
        public String unavailableReason() {
            return null;
        }

        @Override
        public boolean devicePointers() {
            return false;
        }

        @Override
        public void whitenedMse(long s, long t, long n, long c, long h, long w, WhitenMode mode, float eps,
                float scale, long loss, long grad, long stream) {
            CPU.whitenedMse(s, t, n, c, h, w, mode, eps, scale, loss, grad, stream);
        }

        @Override
        public void attentionTransfer(long s, long cs, long t, long ct, long n, long h, long w, float p,
                AttentionDistance d, float eps, float scale, long loss, long grad, long stream) {
            CPU.attentionTransfer(s, cs, t, ct, n, h, w, p, d, eps, scale, loss, grad, stream);
        }

        @Override
        public void softTargetCe(long s, long t, long n, long k, long positions, float tau, float scale, long loss,
                long grad, long stream) {
            CPU.softTargetCe(s, t, n, k, positions, tau, scale, loss, grad, stream);
        }
    };

    private static final List<LossKernels> BACKENDS = List.of(CPU, GENERIC, Backends.get("auto"));

    /**
     * Loss within 1e-5 relative, gradient within 1e-5 of its largest magnitude, as the parity suite; where the
     * formula's gradient is exactly zero (one attention position), within 1e-7 of zero.
     */
    private static void near(String label, double expectedLoss, double[] expectedGrad, float loss, float[] grad) {
        assertTrue(Math.abs(loss - expectedLoss) <= 1e-5 * Math.max(1e-6, Math.abs(expectedLoss)),
                label + ": loss " + loss + " vs " + expectedLoss);
        double scale = 0;
        for (double g : expectedGrad) scale = Math.max(scale, Math.abs(g));
        double tolerance = scale > 0 ? 1e-5 * scale : 1e-7;
        for (int i = 0; i < expectedGrad.length; i++) {
            double err = Math.abs(grad[i] - expectedGrad[i]);
            int index = i;
            assertTrue(err <= tolerance, () -> label + ": grad[" + index + "] " + grad[index] + " vs "
                    + expectedGrad[index]);
        }
    }

    static FloatBuffer direct(float[] values, int offset) {
        FloatBuffer b = ByteBuffer.allocateDirect((values.length + offset) * Float.BYTES).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        b.position(offset);
        b.put(values);
        b.position(offset);
        return b;
    }

    static float[] read(FloatBuffer b, int offset, int count) {
        float[] out = new float[count];
        b.duplicate().position(offset).get(out);
        return out;
    }

    @Test
    void whitenedMseMatchesTheFormula() {
        int[][] shapes = {{1, 1, 1, 1}, {2, 3, 4, 5}, {3, 7, 5, 3}, {1, 64, 8, 8}, {4, 13, 1, 17}};
        for (int[] d : shapes) {
            int count = d[0] * d[1] * d[2] * d[3];
            float[] s = TestArrays.gaussian(1, count, 1, 0);
            float[] t = TestArrays.gaussian(2, count, 3, 0.5);
            for (WhitenMode mode : WhitenMode.values()) {
                double[] g = new double[count];
                double l = JavaOracle.whitenedMse(s, t, d[0], d[1], d[2] * d[3], mode, 1e-5, 0.7, g);
                for (LossKernels k : BACKENDS) {
                    String label = k.name() + " whitenedMse " + mode + " " + java.util.Arrays.toString(d);
                    float[] grad = new float[count];
                    float loss = k.whitenedMse(s, t, d[0], d[1], d[2], d[3], mode, 1e-5f, 0.7f, grad);
                    near(label + " (array)", l, g, loss, grad);
                    assertEquals(loss, k.whitenedMse(s, t, d[0], d[1], d[2], d[3], mode, 1e-5f, 0.7f, null),
                            label + ": forward only");
                    FloatBuffer gb = direct(new float[count], 3);
                    float bl = k.whitenedMse(direct(s, 5), direct(t, 1), d[0], d[1], d[2], d[3], mode, 1e-5f, 0.7f, gb);
                    assertEquals(loss, bl, label + ": buffer loss");
                    assertArrayEquals(grad, read(gb, 3, count), label + ": buffer gradient");
                }
            }
        }
    }

    @Test
    void attentionTransferMatchesTheFormula() {
        int[][] shapes = {{1, 1, 1, 1, 1}, {2, 3, 5, 4, 4}, {3, 8, 2, 7, 5}, {1, 16, 16, 9, 9}};
        for (int[] d : shapes) {
            int n = d[0], cs = d[1], ct = d[2], positions = d[3] * d[4];
            float[] s = TestArrays.gaussian(3, n * cs * positions, 1, 0);
            float[] t = TestArrays.gaussian(4, n * ct * positions, 2, 0);
            for (AttentionDistance distance : AttentionDistance.values()) {
                for (float p : new float[] {2f, 1.5f, 3f}) {
                    double[] g = new double[s.length];
                    double l = JavaOracle.attentionTransfer(s, cs, t, ct, n, positions, p, distance, 1e-12, 1.3, g);
                    for (LossKernels k : BACKENDS) {
                        String label = k.name() + " attentionTransfer " + distance + " p=" + p + " "
                                + java.util.Arrays.toString(d);
                        float[] grad = new float[s.length];
                        float loss = k.attentionTransfer(s, cs, t, ct, n, d[3], d[4], p, distance, 1e-12f, 1.3f, grad);
                        near(label, l, g, loss, grad);
                        FloatBuffer gb = direct(new float[s.length], 2);
                        float bl = k.attentionTransfer(direct(s, 1), cs, direct(t, 4), ct, n, d[3], d[4], p, distance,
                                1e-12f, 1.3f, gb);
                        assertEquals(loss, bl, label + ": buffer loss");
                        assertArrayEquals(grad, read(gb, 2, s.length), label + ": buffer gradient");
                    }
                }
            }
        }
    }

    @Test
    void softTargetCeMatchesTheFormula() {
        int[][] shapes = {{1, 1, 1}, {4, 10, 1}, {3, 7, 5}, {2, 33, 9}, {5, 1001, 1}};
        for (int[] d : shapes) {
            int count = d[0] * d[1] * d[2];
            float[] s = TestArrays.gaussian(5, count, 3, 0);
            float[] t = TestArrays.gaussian(6, count, 3, 0);
            for (float tau : new float[] {1f, 4f, 0.5f}) {
                double[] g = new double[count];
                double l = JavaOracle.softTargetCe(s, t, d[0], d[1], d[2], tau, 2.0, g);
                for (LossKernels k : BACKENDS) {
                    String label = k.name() + " softTargetCe tau=" + tau + " " + java.util.Arrays.toString(d);
                    float[] grad = new float[count];
                    float loss = k.softTargetCe(s, t, d[0], d[1], d[2], tau, 2f, grad);
                    if (d[1] == 1) {
                        // one class: the loss and the gradient are exactly zero
                        assertEquals(0f, loss, label);
                        for (float v : grad) assertEquals(0f, v, label);
                        continue;
                    }
                    near(label, l, g, loss, grad);
                    FloatBuffer gb = direct(new float[count], 0);
                    assertEquals(loss, k.softTargetCe(direct(s, 0), direct(t, 7), d[0], d[1], d[2], tau, 2f, gb),
                            label + ": buffer loss");
                    assertArrayEquals(grad, read(gb, 0, count), label + ": buffer gradient");
                }
            }
        }
    }

    @Test
    void longerArraysUseTheirPrefix() {
        float[] s = TestArrays.gaussian(7, 2 * 3 * 4 * 4, 1, 0);
        float[] t = TestArrays.gaussian(8, s.length, 1, 0);
        float[] sLong = java.util.Arrays.copyOf(s, s.length + 9);
        float[] gLong = new float[s.length + 9];
        java.util.Arrays.fill(gLong, 42f);
        float[] g = new float[s.length];
        float loss = CPU.whitenedMse(s, t, 2, 3, 4, 4, WhitenMode.PER_SAMPLE, 1e-5f, 1f, g);
        assertEquals(loss, CPU.whitenedMse(sLong, java.util.Arrays.copyOf(t, s.length + 1), 2, 3, 4, 4,
                WhitenMode.PER_SAMPLE, 1e-5f, 1f, gLong));
        assertArrayEquals(g, java.util.Arrays.copyOf(gLong, s.length));
        for (int i = s.length; i < gLong.length; i++) assertEquals(42f, gLong[i], "written past the gradient's end");
    }

    @Test
    void shortArraysAreRefusedNamingTheArgument() {
        for (LossKernels k : BACKENDS) {
            float[] ok = new float[2 * 3 * 4 * 5];
            float[] shorter = new float[ok.length - 1];
            float[] grad = new float[ok.length];
            assertMessage("student holds 119 floats, but n·c·h·w = 120", () -> k.whitenedMse(shorter, ok, 2, 3, 4, 5,
                    WhitenMode.PER_SAMPLE, 1e-5f, 1f, grad));
            assertMessage("teacher holds 119 floats", () -> k.whitenedMse(ok, shorter, 2, 3, 4, 5,
                    WhitenMode.PER_SAMPLE, 1e-5f, 1f, grad));
            assertMessage("grad holds 119 floats", () -> k.whitenedMse(ok, ok, 2, 3, 4, 5, WhitenMode.PER_SAMPLE,
                    1e-5f, 1f, shorter));
            assertMessage("teacher holds 119 floats, but n·teacherChannels·h·w = 120", () -> k.attentionTransfer(
                    new float[2 * 1 * 20], 1, shorter, 3, 2, 4, 5, 2f, AttentionDistance.SQUARED, 1e-12f, 1f, null));
            assertMessage("studentLogits holds 119 floats, but n·k·spatial = 120", () -> k.softTargetCe(shorter, ok,
                    2, 3, 20, 1f, 1f, null));
            assertMessage("teacherLogits is null", () -> k.softTargetCe(ok, null, 2, 3, 20, 1f, 1f, null));
            assertMessage("exceeds the", () -> k.softTargetCe(ok, ok, 65536, 65536, 2, 1f, 1f, null));
        }
    }

    @Test
    void badSizesAreReportedByTheNativeChecks() {
        float[] a = new float[8];
        for (LossKernels k : BACKENDS) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> k.whitenedMse(a, a, 0, 2, 2, 2, WhitenMode.PER_SAMPLE, 1e-5f, 1f, a));
            assertTrue(e.getMessage().contains("n"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> k.softTargetCe(a, a, 2, 2, 2, Float.NaN, 1f, null), "a NaN temperature");
        }
    }

    @Test
    void buffersMustBeDirectNativeOrderAndWritable() {
        float[] v = TestArrays.gaussian(9, 8, 1, 0);
        FloatBuffer good = direct(v, 0);
        FloatBuffer heap = FloatBuffer.wrap(v);
        FloatBuffer wrongOrder = ByteBuffer.allocateDirect(8 * Float.BYTES)
                .order(ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN)
                .asFloatBuffer();
        for (LossKernels k : BACKENDS) {
            assertMessage("student must be a direct FloatBuffer", () -> k.whitenedMse(heap, good, 2, 1, 2, 2,
                    WhitenMode.PER_SAMPLE, 1e-5f, 1f, null));
            assertMessage("teacher must be in the platform's byte order", () -> k.whitenedMse(good, wrongOrder, 2, 1,
                    2, 2, WhitenMode.PER_SAMPLE, 1e-5f, 1f, null));
            assertMessage("grad is a read-only buffer", () -> k.whitenedMse(good, good, 2, 1, 2, 2,
                    WhitenMode.PER_SAMPLE, 1e-5f, 1f, direct(new float[8], 0).asReadOnlyBuffer()));
            FloatBuffer partly = direct(v, 0);
            partly.position(1);
            assertMessage("student holds 7 floats, but n·c·h·w = 8", () -> k.whitenedMse(partly, good, 2, 1, 2, 2,
                    WhitenMode.PER_SAMPLE, 1e-5f, 1f, null));
        }
    }

    @Test
    void devicePointerBackendsRefuseHostMemory() {
        LossKernels cuda = Backends.all().get("cuda");
        float[] a = new float[8];
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> cuda.whitenedMse(a, a, 2, 1, 2, 2, WhitenMode.PER_SAMPLE, 1e-5f, 1f, null));
        assertTrue(e.getMessage().contains("device pointers"), e.getMessage());
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(part), "expected '" + part + "' in: " + e.getMessage());
    }
}
