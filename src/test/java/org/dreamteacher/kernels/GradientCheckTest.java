package org.dreamteacher.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * Central finite differences of each kernel's own loss against its own gradient, on small shapes, through the
 * raw-address API. The loss comes back as float32, so a step h gives a difference quotient with rounding
 * error ~ ulp(L)/h; the tolerances below are that bound plus the O(h²) truncation, far below the size of a
 * wrong gradient (a missing factor or sign is an O(max|grad|) error).
 */
class GradientCheckTest {
    private static final LossKernels CPU = Backends.get("cpu");

    interface Kernel {
        void run(long student, long loss, long grad);
    }

    /** Checks every element of the student (inputs are tiny). */
    private static void check(String label, float[] student, double h, double rtol, Kernel kernel) {
        try (FloatPointer s = new FloatPointer(student); FloatPointer loss = new FloatPointer(1);
                FloatPointer grad = new FloatPointer(student.length)) {
            kernel.run(s.address(), loss.address(), grad.address());
            float[] g = new float[student.length];
            grad.get(g);
            double scale = 0;
            for (float v : g) scale = Math.max(scale, Math.abs(v));
            assertTrue(scale > 0, label + ": gradient is all zero, nothing to check");
            for (int i = 0; i < student.length; i++) {
                float x = student[i];
                s.put(i, (float) (x + h));
                kernel.run(s.address(), loss.address(), 0);
                double up = loss.get(0);
                s.put(i, (float) (x - h));
                kernel.run(s.address(), loss.address(), 0);
                double down = loss.get(0);
                s.put(i, x);
                // the actual step in float32 may differ slightly from h
                double step = ((double) (float) (x + h)) - ((double) (float) (x - h));
                double fd = (up - down) / step;
                double err = Math.abs(fd - g[i]);
                int index = i;
                double tolerance = rtol * scale;
                assertTrue(err <= tolerance, () -> label + ": element " + index + " finite difference " + fd
                        + " vs gradient " + g[index] + " (tolerance " + tolerance + ")");
            }
        }
    }

    @Test
    void whitenedMse() {
        for (WhitenMode mode : WhitenMode.values()) {
            float[] teacher = TestArrays.gaussian(11, 2 * 3 * 2 * 3, 2, 1);
            try (FloatPointer t = new FloatPointer(teacher)) {
                check("whitened MSE " + mode, TestArrays.gaussian(12, teacher.length, 1, 0), 1e-2, 1e-3,
                        (s, l, g) -> CPU.whitenedMse(s, t.address(), 2, 3, 2, 3, mode, 1e-5f, 1f, l, g, 0));
            }
        }
    }

    @Test
    void attentionTransfer() {
        for (AttentionDistance distance : AttentionDistance.values()) {
            for (float p : new float[] {1f, 2f, 3f, 3.5f}) {
                float[] teacher = TestArrays.gaussian(21, 2 * 4 * 3 * 3, 1, 0.3);
                try (FloatPointer t = new FloatPointer(teacher)) {
                    check("attention transfer " + distance + " p=" + p, TestArrays.gaussian(22, 2 * 3 * 3 * 3, 1, 0),
                            1e-3, 5e-3, (s, l, g) -> CPU.attentionTransfer(s, 3, t.address(), 4, 2, 3, 3, p, distance,
                                    1e-12f, 1f, l, g, 0));
                }
            }
        }
    }

    @Test
    void softTargetCe() {
        for (float tau : new float[] {0.5f, 1f, 4f}) {
            float[] teacher = TestArrays.gaussian(31, 3 * 5 * 2, 2, 0);
            try (FloatPointer t = new FloatPointer(teacher)) {
                check("soft-target CE tau=" + tau, TestArrays.gaussian(32, teacher.length, 2, 0), 1e-3, 5e-3,
                        (s, l, g) -> CPU.softTargetCe(s, t.address(), 3, 5, 2, tau, 1f, l, g, 0));
            }
        }
    }
}
