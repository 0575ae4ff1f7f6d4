package org.dreamteacher.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The probe's solver: the gradient at its answer, recomputed independently with libtorch's autograd from
 * {@code cross_entropy} in float64, is within the tolerance; the iteration cap is reported; the cross-validated
 * penalty is one of the grid and a function of the seed.
 */
class SoftmaxRegressionTest {
    private static final int CLASSES = 4;

    @BeforeAll
    static void init() {
        TorchRuntime.init();
    }

    /** Gaussian classes around random centres in 7 dimensions, overlapping (not separable). */
    private static Tensor[] data(long seed, int n) {
        torch.manual_seed(seed);
        TensorOptions f64 = new TensorOptions(ScalarType.Double);
        Tensor centres = torch.randn(new long[] {CLASSES, 7}, f64);
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) labels[i] = i % CLASSES;
        Tensor y = org.dreamteacher.torch.CpuTensors.longs(labels);
        Tensor x = torch.index_select(centres, 0, y).add(torch.randn(new long[] {n, 7}, f64).mul(new Scalar(1.5)));
        return new Tensor[] {x, y};
    }

    /** max |d objective / d theta| at {@code theta}, by autograd on libtorch's own cross-entropy. */
    private static double autogradGradientMax(Tensor x, Tensor y, Tensor theta, double lambda) {
        Tensor t = theta.detach().clone().requires_grad_(true);
        long c = x.size(1);
        Tensor w = t.narrow(1, 0, c);
        Tensor logits = x.mm(w.t()).add(t.narrow(1, c, 1).t());
        Tensor objective = torch.cross_entropy(logits, y).add(w.square().sum().mul(new Scalar(lambda / 2)));
        objective.backward();
        return t.grad().abs().max().item_double();
    }

    @Test
    void theGradientVanishesAtTheAnswer() {
        for (double lambda : new double[] {1e-1, 1e-3}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor[] d = data(3, 203);
                try (SoftmaxRegression.Fit fit = SoftmaxRegression.fit(d[0], d[1], CLASSES, lambda, 1000, null)) {
                    assertTrue(fit.converged(), fit.describe());
                    assertTrue(fit.iterations() < 1000, fit.describe());
                    double g = autogradGradientMax(d[0], d[1], fit.theta(), lambda);
                    assertTrue(g <= 2 * SoftmaxRegression.TOLERANCE, "autograd gradient " + g + " at " + fit.describe());
                    // A strictly convex objective: moving away from the minimum in any direction costs.
                    Tensor moved = fit.theta().add(torch.randn(fit.theta().sizes().vec().get(), new TensorOptions(ScalarType.Double))
                            .mul(new Scalar(1e-2)));
                    try (SoftmaxRegression.Fit other = SoftmaxRegression.fit(d[0], d[1], CLASSES, lambda, 1000, moved)) {
                        // lambda-strong convexity bounds each answer's excess objective by |g|^2 / (2 lambda), with
                        // |g|^2 <= entries * tolerance^2; two answers differ by at most twice that.
                        double entries = fit.theta().numel(), tol = SoftmaxRegression.TOLERANCE;
                        assertEquals(fit.objective(), other.objective(), entries * tol * tol / lambda, "two starts, one minimum");
                    }
                }
            }
        }
    }

    @Test
    void theCapIsReportedAsNotConverged() {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] d = data(4, 120);
            try (SoftmaxRegression.Fit fit = SoftmaxRegression.fit(d[0], d[1], CLASSES, 1e-4, 2, null)) {
                assertFalse(fit.converged(), fit.describe());
                assertEquals(2, fit.iterations());
                assertTrue(fit.describe().contains("NOT converged"), fit.describe());
            }
        }
    }

    @Test
    void crossValidationPicksAGridPenaltyFromTheSeed() {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] d = data(5, 150);
            double a = SoftmaxRegression.chooseLambda(d[0], d[1], CLASSES, 500, 7);
            double b = SoftmaxRegression.chooseLambda(d[0], d[1], CLASSES, 500, 7);
            assertEquals(a, b);
            assertTrue(Arrays.stream(SoftmaxRegression.LAMBDA_GRID).anyMatch(l -> l == a), "lambda " + a);
        }
    }

    @Test
    void rejectsBadInput() {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] d = data(6, 12);
            assertThrows(IllegalArgumentException.class, () -> SoftmaxRegression.fit(d[0], d[1], CLASSES, 0, 10, null));
            assertThrows(IllegalArgumentException.class, () -> SoftmaxRegression.fit(d[0], d[1], CLASSES, Double.NaN, 10, null));
            assertThrows(IllegalArgumentException.class, () -> SoftmaxRegression.fit(d[0], d[1], CLASSES, 1e-2, 0, null));
            assertThrows(IllegalArgumentException.class,
                    () -> SoftmaxRegression.fit(d[0], d[1].narrow(0, 0, 5), CLASSES, 1e-2, 10, null));
            assertThrows(IllegalArgumentException.class,
                    () -> SoftmaxRegression.chooseLambda(d[0].narrow(0, 0, 2), d[1].narrow(0, 0, 2), CLASSES, 10, 0));
        }
    }
}
