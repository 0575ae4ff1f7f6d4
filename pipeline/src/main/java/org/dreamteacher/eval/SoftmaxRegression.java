package org.dreamteacher.eval;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.data.Splits;
import org.dreamteacher.torch.CpuTensors;

/**
 * The linear probe's classifier: multinomial logistic regression with an L2 penalty on the weights (not on the
 * bias), fitted by full-batch L-BFGS in float64 until the largest entry of the objective's gradient is at most
 * {@link #TOLERANCE}.
 *
 * <p>The objective {@code mean cross-entropy + lambda / 2 * |W|^2} is strictly convex for {@code lambda > 0}, so
 * a point where the gradient vanishes is its one minimum: the criterion says that the probe has converged, whatever
 * the optimiser, and a probe result measures the features rather than a learning-rate schedule. Without the
 * penalty a few hundred labelled images in a few hundred dimensions are usually separable, the weights grow without
 * bound and there is no minimum to converge to; {@link #chooseLambda} picks the penalty by cross-validation on the
 * labelled images alone (as scikit-learn's {@code LogisticRegressionCV} does), so the test set never chooses it.
 */
final class SoftmaxRegression {
    /** Convergence: the largest absolute entry of the objective's gradient at the returned weights. */
    static final double TOLERANCE = 1e-5;
    /** Penalties tried by cross-validation, largest first (each fit starts from the previous one's weights). */
    static final double[] LAMBDA_GRID = {1e-1, 1e-2, 1e-3, 1e-4};
    static final int FOLDS = 3;
    /** Cross-validation uses at most this many labelled images (a seeded draw); the final fit uses all of them. */
    static final int MAX_CV_IMAGES = 6000;
    private static final int HISTORY = 10;
    private static final double ARMIJO = 1e-4;
    private static final int MAX_HALVINGS = 50;

    private SoftmaxRegression() {}

    /**
     * Fitted weights {@code theta} (classes, channels + 1; the last column is the bias), how they were reached and
     * whether the criterion was met within the iteration cap. Owns {@code theta}.
     */
    record Fit(Tensor theta, double lambda, int iterations, double gradientMax, double objective, boolean converged)
            implements AutoCloseable {
        /** Logits (N, classes) of float64 features (N, channels). The caller owns the result. */
        Tensor logits(Tensor x) {
            long c = x.size(1);
            return x.mm(theta.narrow(1, 0, c).t()).add(theta.narrow(1, c, 1).t());
        }

        @Override
        public void close() {
            theta.close();
        }

        String describe() {
            return String.format(Locale.ROOT, "lambda %.0e, %s after %d L-BFGS iterations (max |gradient| %.1e)", lambda,
                    converged ? "converged" : "NOT converged", iterations, gradientMax);
        }
    }

    /**
     * Fits the regression on float64 features {@code x} (N, C) and int64 labels {@code y} (N) in
     * {@code 0..classes-1}, starting from {@code start} (classes, C + 1) or from zeros when null, for at most
     * {@code maxIterations} iterations.
     */
    static Fit fit(Tensor x, Tensor y, int classes, double lambda, int maxIterations, Tensor start) {
        if (!(lambda > 0) || !Double.isFinite(lambda)) throw new IllegalArgumentException("lambda must be finite and > 0, got " + lambda);
        if (maxIterations < 1) throw new IllegalArgumentException("maxIterations must be >= 1, got " + maxIterations);
        if (x.dim() != 2 || y.dim() != 1 || x.size(0) != y.size(0) || x.size(0) == 0)
            throw new IllegalArgumentException("need features (N, C) and labels (N) with N > 0");
        try (NoGradGuard ng = new NoGradGuard()) {
            return new Lbfgs(x, y, classes, lambda).run(maxIterations, start);
        }
    }

    /**
     * The penalty of {@link #LAMBDA_GRID} with the best mean validation accuracy over {@link #FOLDS} folds of the
     * labelled images (a larger penalty wins a tie). The folds are a seeded shuffle of at most
     * {@link #MAX_CV_IMAGES} of the images.
     */
    static double chooseLambda(Tensor x, Tensor y, int classes, int maxIterations, long seed) {
        int n = Math.toIntExact(x.size(0));
        if (n < FOLDS) throw new IllegalArgumentException("cross-validation needs at least " + FOLDS + " labelled images, got " + n);
        int[] order = Splits.shuffled(n, SeededRandom.mix(seed, SeedStreams.PROBE_FOLDS));
        int used = Math.min(n, MAX_CV_IMAGES);
        double[] accuracy = new double[LAMBDA_GRID.length];
        for (int fold = 0; fold < FOLDS; fold++) {
            int f = fold;
            long[] val = IntStream.range(0, used).filter(i -> i % FOLDS == f).mapToLong(i -> order[i]).toArray();
            long[] fit = IntStream.range(0, used).filter(i -> i % FOLDS != f).mapToLong(i -> order[i]).toArray();
            Tensor start = null;
            try (PointerScope scope = new PointerScope()) {
                Tensor vi = CpuTensors.longs(val), fi = CpuTensors.longs(fit);
                Tensor xf = torch.index_select(x, 0, fi), yf = torch.index_select(y, 0, fi);
                Tensor xv = torch.index_select(x, 0, vi), yv = torch.index_select(y, 0, vi);
                for (int k = 0; k < LAMBDA_GRID.length; k++) {
                    try (Fit r = fit(xf, yf, classes, LAMBDA_GRID[k], maxIterations, start);
                            NoGradGuard ng = new NoGradGuard()) {
                        long correct = r.logits(xv).argmax(new LongOptional(1), false).eq(yv).sum().item_long();
                        accuracy[k] += (double) correct / val.length / FOLDS;
                        if (start != null) start.close();
                        start = r.theta().clone();
                    }
                }
            } finally {
                if (start != null) start.close();
            }
        }
        int best = 0;
        for (int k = 1; k < accuracy.length; k++) if (accuracy[k] > accuracy[best]) best = k;
        return LAMBDA_GRID[best];
    }

    /** Full-batch L-BFGS with a backtracking (Armijo) line search; every tensor it keeps is closed on return. */
    private static final class Lbfgs {
        private final Tensor xa;     // features with a column of ones (N, C + 1)
        private final Tensor onehot; // (N, classes)
        private final double lambda;
        private final long c;
        private final long classes;

        Lbfgs(Tensor x, Tensor y, int classes, double lambda) {
            this.c = x.size(1);
            this.classes = classes;
            this.lambda = lambda;
            TensorOptions f64 = new TensorOptions(ScalarType.Double);
            xa = torch.cat(new TensorVector(x.to(ScalarType.Double), torch.ones(new long[] {x.size(0), 1}, f64)), 1);
            onehot = torch.one_hot(y, classes).to(ScalarType.Double);
        }

        /** Writes the objective's gradient at {@code theta} into {@code grad} and returns the objective. */
        private double objective(Tensor theta, Tensor grad) {
            try (PointerScope scope = new PointerScope()) {
                double n = xa.size(0);
                Tensor z = xa.mm(theta.t());
                double ce = (z.logsumexp(new long[] {1}, false).sum().item_double() - z.mul(onehot).sum().item_double()) / n;
                Tensor w = theta.narrow(1, 0, c);
                double penalty = 0.5 * lambda * w.square().sum().item_double();
                grad.copy_(torch.softmax(z, 1).sub(onehot).t().mm(xa).div(new Scalar(n)));
                grad.narrow(1, 0, c).add_(w, new Scalar(lambda));
                return ce + penalty;
            }
        }

        private static double dot(Tensor a, Tensor b) {
            try (PointerScope scope = new PointerScope()) {
                return a.flatten().dot(b.flatten()).item_double();
            }
        }

        private static double absMax(Tensor a) {
            try (PointerScope scope = new PointerScope()) {
                return a.abs().max().item_double();
            }
        }

        Fit run(int maxIterations, Tensor start) {
            TensorOptions f64 = new TensorOptions(ScalarType.Double);
            long[] shape = {classes, c + 1};
            if (start != null && !Arrays.equals(start.sizes().vec().get(), shape))
                throw new IllegalArgumentException("start has shape " + Arrays.toString(start.sizes().vec().get()) + ", need " + Arrays.toString(shape));
            Tensor theta = start == null ? torch.zeros(shape, f64) : start.to(ScalarType.Double).clone();
            Tensor grad = torch.zeros(shape, f64), next = torch.zeros(shape, f64), nextGrad = torch.zeros(shape, f64);
            Tensor direction = torch.zeros(shape, f64);
            Tensor[] s = new Tensor[HISTORY], yv = new Tensor[HISTORY];
            for (int i = 0; i < HISTORY; i++) {
                s[i] = torch.zeros(shape, f64);
                yv[i] = torch.zeros(shape, f64);
            }
            double[] rho = new double[HISTORY], alpha = new double[HISTORY];
            int stored = 0, newest = -1;
            boolean done = false;
            try {
                double f = objective(theta, grad);
                double gmax = absMax(grad);
                int it = 0;
                while (gmax > TOLERANCE && it < maxIterations && Double.isFinite(f)) {
                    try (PointerScope iteration = new PointerScope()) { // the wrappers that in-place operations return
                        // Two-loop recursion: direction = -H g, with H the L-BFGS inverse-Hessian estimate.
                        direction.copy_(grad);
                        for (int k = 0; k < stored; k++) {
                            int i = Math.floorMod(newest - k, HISTORY);
                            alpha[i] = rho[i] * dot(s[i], direction);
                            direction.sub_(yv[i], new Scalar(alpha[i]));
                        }
                        double gamma = stored > 0 ? dot(s[newest], yv[newest]) / dot(yv[newest], yv[newest])
                                : 1.0 / Math.sqrt(dot(grad, grad));
                        direction.mul_(new Scalar(gamma));
                        for (int k = stored - 1; k >= 0; k--) {
                            int i = Math.floorMod(newest - k, HISTORY);
                            double beta = rho[i] * dot(yv[i], direction);
                            direction.add_(s[i], new Scalar(alpha[i] - beta));
                        }
                        direction.neg_();
                        double slope = dot(grad, direction);
                        if (!(slope < 0)) { // not a descent direction: forget the history and follow the gradient
                            stored = 0;
                            direction.copy_(grad).mul_(new Scalar(-1.0 / Math.sqrt(dot(grad, grad))));
                            slope = dot(grad, direction);
                        }
                        double step = 1, fNext = Double.NaN;
                        int halvings = 0;
                        for (; halvings <= MAX_HALVINGS; halvings++, step *= 0.5) {
                            next.copy_(theta).add_(direction, new Scalar(step));
                            fNext = objective(next, nextGrad);
                            if (fNext <= f + ARMIJO * step * slope) break;
                        }
                        if (halvings > MAX_HALVINGS) break; // no decrease at machine precision: as close as float64 gets
                        Tensor taken = direction.copy_(next).sub_(theta), change = nextGrad.sub(grad);
                        double sy = dot(taken, change);
                        if (sy > 1e-12) { // a pair without positive curvature would break the estimate: skip it
                            newest = (newest + 1) % HISTORY;
                            s[newest].copy_(taken);
                            yv[newest].copy_(change);
                            rho[newest] = 1.0 / sy;
                            stored = Math.min(stored + 1, HISTORY);
                        }
                        theta.copy_(next);
                        grad.copy_(nextGrad);
                        f = fNext;
                        gmax = absMax(grad);
                        it++;
                    }
                }
                if (!Double.isFinite(f)) throw new IllegalStateException("the probe's objective became " + f + "; are the features finite?");
                done = true;
                return new Fit(theta, lambda, it, gmax, f, gmax <= TOLERANCE);
            } finally {
                for (Pointer p : new Pointer[] {grad, next, nextGrad, direction, xa, onehot}) p.close();
                for (int i = 0; i < HISTORY; i++) {
                    s[i].close();
                    yv[i].close();
                }
                if (!done) theta.close();
            }
        }
    }
}
