package org.dreamteacher.torch.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.UnaryOperator;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;

/**
 * The test oracle: the reference backend's composite formulas evaluated in float64 on the same (float32)
 * inputs, with the gradient from libtorch autograd, and the tolerance checks of the parity tests.
 */
final class Oracle {
    /** Loss: relative error bound. Gradient: max-abs error bound relative to max|grad|. */
    static final double LOSS_RTOL = 1e-5;
    static final double GRAD_RTOL = 1e-5;
    /**
     * Absolute floor for values that are mathematically 0 (e.g. attention transfer with H = W = 1, where
     * q = 1 for both maps, or soft CE with K = 1): float64 rounding leaves ~1e-16 there, not a relative scale.
     */
    static final double ZERO_FLOOR = 1e-12;

    private Oracle() {}

    record Expected(double loss, double[] grad) {}

    /** Loss and gradScale·dL/dstudent of a formula, in float64. */
    static Expected evaluate(float[] student, long[] shape, float gradScale, UnaryOperator<Tensor> formula) {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestData.doubles(student, shape).set_requires_grad(true);
            Tensor loss = formula.apply(s);
            loss.backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());
            double[] grad = TestData.toDoubles(s.grad());
            for (int i = 0; i < grad.length; i++) grad[i] *= gradScale;
            return new Expected(loss.item_double(), grad);
        }
    }

    /** Asserts the documented parity bounds; grad may be null for a forward-only result. */
    static void assertClose(String label, Expected expected, float loss, float[] grad) {
        double lossErr = Math.abs(loss - expected.loss());
        assertTrue(lossErr <= LOSS_RTOL * Math.abs(expected.loss()) + ZERO_FLOOR,
                () -> label + ": loss " + loss + " vs reference " + expected.loss() + " (abs err " + lossErr + ")");
        assertTrue(Float.isFinite(loss), label + ": loss not finite");
        if (grad == null) return;
        double gradErr = TestData.maxAbsDiff(grad, expected.grad());
        double scale = TestData.maxAbs(expected.grad());
        assertTrue(gradErr <= GRAD_RTOL * scale + ZERO_FLOOR,
                () -> label + ": grad max-abs err " + gradErr + " > " + GRAD_RTOL + " x max|grad| " + scale);
    }
}
