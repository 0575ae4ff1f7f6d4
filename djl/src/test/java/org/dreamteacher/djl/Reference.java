package org.dreamteacher.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.djl.training.loss.Loss;
import java.util.function.BiFunction;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.WhitenMode;

/**
 * The three losses written with DJL's own NDArray operations (the formulas of docs/design.md section 3), and the
 * comparison of a kernel loss with them: loss and gradient with respect to the student, through DJL's autograd.
 */
final class Reference {
    private Reference() {}

    /** Whitened MSE: LayerNorm without affine of the teacher over (C,H,W) or over C, then the mean squared error. */
    static NDArray whitenedMse(NDArray s, NDArray t, WhitenMode mode, float eps) {
        int[] axes = mode == WhitenMode.PER_SAMPLE ? new int[] {1, 2, 3} : new int[] {1};
        long count = 1;
        for (int a : axes) count *= t.getShape().get(a);
        // mean over several axes fails on PyTorch ("Only 1 axis is support!"): sum and divide
        NDArray mu = t.sum(axes, true).div(count);
        NDArray centred = t.sub(mu);
        NDArray var = centred.square().sum(axes, true).div(count);
        NDArray w = centred.div(var.add(eps).sqrt());
        return s.sub(w).square().sum().div(s.size());
    }

    /** Attention transfer: A = Σ_c |x|^p, q = A / max(‖A_n‖, eps), squared or norm distance. */
    static NDArray attentionTransfer(NDArray s, NDArray t, float p, AttentionDistance distance, float eps) {
        long n = s.getShape().get(0);
        long positions = s.getShape().get(2) * s.getShape().get(3);
        NDArray qs = attentionMap(s, p, eps, n, positions);
        NDArray qt = attentionMap(t, p, eps, n, positions);
        NDArray d = qs.sub(qt);
        if (distance == AttentionDistance.SQUARED) return d.square().sum().div(n * positions);
        return d.square().sum(new int[] {1}).sqrt().sum().div(n);
    }

    private static NDArray attentionMap(NDArray x, float p, float eps, long n, long positions) {
        NDArray a = x.abs().pow(p).sum(new int[] {1}).reshape(n, positions);
        NDArray norm = a.square().sum(new int[] {1}, true).sqrt().maximum(eps);
        return a.div(norm);
    }

    /** Soft-target cross entropy over axis 1 at temperature tau, averaged over samples and positions. */
    static NDArray softTargetCe(NDArray s, NDArray t, float tau) {
        long rows = s.size() / s.getShape().get(1);
        NDArray logPs = s.div(tau).logSoftmax(1);
        NDArray pt = t.div(tau).softmax(1);
        return pt.mul(logPs).sum().neg().div(rows);
    }

    /** A loss's value and its gradient with respect to the student, computed under a fresh gradient collector. */
    record ValueAndGradient(float value, float[] gradient) {}

    static ValueAndGradient run(NDArray student, NDArray teacher, BiFunction<NDArray, NDArray, NDArray> loss) {
        NDManager m = student.getManager();
        NDArray x = student.duplicate();
        x.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray l = loss.apply(x, teacher);
            assertEquals(0, l.getShape().dimension(), "the loss is a scalar");
            gc.backward(l);
            float value = l.getFloat();
            float[] g = x.getGradient().toFloatArray();
            x.close();
            return new ValueAndGradient(value, g);
        }
    }

    static ValueAndGradient kernel(NDArray student, NDArray teacher, Loss loss) {
        return run(student, teacher, (x, t) -> loss.evaluate(new NDList(t), new NDList(x)));
    }

    /** Loss within 1e-4 relative; gradient within 1e-4 of its largest element (max-norm relative error). */
    static void assertClose(ValueAndGradient expected, ValueAndGradient actual, String what) {
        assertTrue(Float.isFinite(expected.value()) && expected.value() != 0, what + ": reference loss " + expected.value());
        double lossError = Math.abs(actual.value() - expected.value()) / Math.abs(expected.value());
        assertTrue(lossError <= 1e-4, what + ": loss " + actual.value() + " vs DJL's " + expected.value()
                + " (relative error " + lossError + ")");
        float[] e = expected.gradient(), a = actual.gradient();
        assertEquals(e.length, a.length, what + ": gradient length");
        double max = 0, diff = 0;
        int worst = 0;
        for (int i = 0; i < e.length; i++) {
            max = Math.max(max, Math.abs(e[i]));
            double d = Math.abs(a[i] - e[i]);
            if (d > diff) {
                diff = d;
                worst = i;
            }
        }
        assertTrue(max > 0, what + ": the reference gradient is zero");
        assertTrue(diff <= 1e-4 * max, what + ": gradient element " + worst + " is " + a[worst] + ", DJL's "
                + e[worst] + " (error " + diff + ", largest element " + max + ", relative " + diff / max + ")");
    }
}
