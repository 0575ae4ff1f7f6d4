package org.dreamteacher.eval;

import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;

/**
 * The Fréchet distance between two sets of feature vectors, each summarised by a Gaussian with its mean and
 * covariance: {@code FD = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))}. It is zero for two sets with the same
 * statistics and, for equal covariances, the squared distance of the means.
 *
 * <p>With features from an Inception network this is the FID; in this library the features come from a
 * classifier the project trains, so the numbers compare only with other numbers in the same feature space
 * (the same classifier checkpoint, the same number of images).
 *
 * <p>Everything runs in float64. The trace of the matrix square root uses symmetric eigendecompositions only:
 * {@code (S_a S_b)^(1/2)} has the same eigenvalues as the symmetric positive semi-definite
 * {@code S_a^(1/2) S_b S_a^(1/2)}, and {@code S_a^(1/2)} comes from the eigendecomposition of the symmetric
 * {@code S_a}; so {@code Tr((S_a S_b)^(1/2))} is the sum of the square roots of the eigenvalues of
 * {@code S_a^(1/2) S_b S_a^(1/2)}. This avoids the non-symmetric square root (scipy's {@code sqrtm}), which can
 * return complex parts on nearly singular covariances. Covariances of fewer samples than dimensions are singular,
 * and rounding leaves some of their zero eigenvalues slightly negative: these are set to 0 before the square root;
 * {@link Result#clampedEigenvalues()} counts them and {@link Result#mostNegativeEigenvalue()} gives the largest
 * one in magnitude, and a warning is logged when that is not negligible next to the largest eigenvalue. A total
 * below zero, which only rounding can produce, is reported as 0.
 */
public final class FrechetDistance {
    private static final System.Logger LOG = System.getLogger(FrechetDistance.class.getName());
    /** A clamped eigenvalue larger than this share of the largest one is more than rounding: warn. */
    private static final double NEGLIGIBLE = 1e-6;

    private FrechetDistance() {}

    /**
     * Mean and (unbiased, divided by count - 1) covariance of a set of feature vectors.
     *
     * @param mean       (dimension)
     * @param covariance (dimension x dimension), row-major
     */
    public record Statistics(int count, int dimension, double[] mean, double[] covariance) {
        public Statistics {
            if (count < 2) throw new IllegalArgumentException("statistics need at least 2 samples, got " + count);
            if (dimension < 1) throw new IllegalArgumentException("dimension must be >= 1, got " + dimension);
            if (mean.length != dimension) throw new IllegalArgumentException("mean has " + mean.length + " entries, expected " + dimension);
            if (covariance.length != (long) dimension * dimension)
                throw new IllegalArgumentException("covariance has " + covariance.length + " entries, expected " + dimension + "^2");
            for (double v : mean) if (!Double.isFinite(v)) throw new IllegalArgumentException("the mean has a non-finite entry: " + v);
            for (double v : covariance) if (!Double.isFinite(v)) throw new IllegalArgumentException("the covariance has a non-finite entry: " + v);
            mean = mean.clone();
            covariance = covariance.clone();
        }

        @Override
        public double[] mean() {
            return mean.clone();
        }

        @Override
        public double[] covariance() {
            return covariance.clone();
        }
    }

    /**
     * The distance and its parts.
     *
     * @param distance               the Fréchet distance, never negative
     * @param meanTerm               {@code |mu_a - mu_b|^2}
     * @param traceTerm              {@code Tr(S_a + S_b - 2 (S_a S_b)^(1/2))}
     * @param clampedEigenvalues     negative eigenvalues set to 0 (of {@code S_a}, then of {@code S_a^(1/2) S_b S_a^(1/2)})
     * @param mostNegativeEigenvalue the most negative of them, 0 when none was clamped
     */
    public record Result(double distance, double meanTerm, double traceTerm, int clampedEigenvalues, double mostNegativeEigenvalue) {}

    /** The statistics of {@code features} (N, D), at least 2 rows; any floating type, computed in float64. */
    public static Statistics statistics(Tensor features) {
        TorchRuntime.init();
        if (features == null || features.isNull() || !features.defined()) throw new IllegalArgumentException("features are undefined");
        if (features.dim() != 2) throw new IllegalArgumentException("features must be (N, D), got " + Arrays.toString(features.sizes().vec().get()));
        int n = Math.toIntExact(features.size(0)), d = Math.toIntExact(features.size(1));
        if (n < 2) throw new IllegalArgumentException("statistics need at least 2 samples, got " + n);
        if (d < 1) throw new IllegalArgumentException("features have no columns");
        if ((long) d * d > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many feature columns for a covariance: " + d);
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor x = features.to(ScalarType.Double).contiguous();
            Tensor mean = x.mean(0);
            Tensor centred = x.sub(mean);
            Tensor cov = centred.t().matmul(centred).div(new Scalar((double) (n - 1)));
            return new Statistics(n, d, doubles(mean), doubles(cov));
        }
    }

    /** The Fréchet distance between the statistics of two feature sets of the same dimension. */
    public static Result between(Statistics a, Statistics b) {
        TorchRuntime.init();
        if (a.dimension() != b.dimension())
            throw new IllegalArgumentException("the feature sets have " + a.dimension() + " and " + b.dimension() + " dimensions");
        int d = a.dimension();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor muA = tensor(a.mean, d), muB = tensor(b.mean, d);
            Tensor sA = tensor(a.covariance, d, d), sB = tensor(b.covariance, d, d);
            double meanTerm = muA.sub(muB).square().sum().item_double();

            T_TensorTensor_T eig = torch.linalg_eigh(symmetric(sA));
            Tensor values = eig.get0(), vectors = eig.get1();
            Clamp first = clamp(values);
            Tensor sqrtA = vectors.mul(first.values.sqrt().unsqueeze(0)).matmul(vectors.t());
            Tensor inner = torch.linalg_eigvalsh(symmetric(sqrtA.matmul(sB).matmul(sqrtA)));
            Clamp second = clamp(inner);
            double traceSqrt = second.values.sqrt().sum().item_double();
            double traceTerm = sA.trace().item_double() + sB.trace().item_double() - 2 * traceSqrt;

            int clamped = first.count + second.count;
            double mostNegative = Math.min(first.mostNegative, second.mostNegative);
            String detail = clamped + " negative eigenvalue(s) set to 0, the most negative " + mostNegative;
            double scale = Math.max(first.largest, second.largest);
            if (clamped > 0 && -mostNegative > NEGLIGIBLE * Math.max(scale, Double.MIN_NORMAL))
                LOG.log(System.Logger.Level.WARNING, "Frechet distance: " + detail + " (largest eigenvalue " + scale
                        + "): the covariances are far from positive semi-definite");
            else if (clamped > 0) LOG.log(System.Logger.Level.DEBUG, "Frechet distance: " + detail);
            double distance = meanTerm + traceTerm;
            if (!Double.isFinite(distance)) throw new IllegalStateException("the Frechet distance came out as " + distance);
            return new Result(Math.max(0, distance), meanTerm, traceTerm, clamped, mostNegative);
        }
    }

    /** The Fréchet distance between the Gaussians fitted to two feature sets (N, D) and (M, D). */
    public static Result between(Tensor a, Tensor b) {
        return between(statistics(a), statistics(b));
    }

    private record Clamp(Tensor values, int count, double mostNegative, double largest) {}

    private static Clamp clamp(Tensor eigenvalues) {
        int count = (int) eigenvalues.lt(new Scalar(0.0)).sum().item_long();
        double min = eigenvalues.min().item_double();
        double max = eigenvalues.max().item_double();
        return new Clamp(eigenvalues.clamp_min(new Scalar(0.0)), count, Math.min(0, min), Math.max(0, max));
    }

    /** (M + M^T) / 2: removes the asymmetry that rounding leaves in products of symmetric matrices. */
    private static Tensor symmetric(Tensor m) {
        return m.add(m.t()).mul(new Scalar(0.5));
    }

    private static Tensor tensor(double[] values, long... shape) {
        Tensor t = torch.zeros(shape, new TensorOptions(ScalarType.Double));
        t.data_ptr_double().put(values);
        return t;
    }

    private static double[] doubles(Tensor t) {
        Tensor c = t.to(ScalarType.Double).contiguous();
        double[] out = new double[Math.toIntExact(c.numel())];
        c.data_ptr_double().get(out);
        return out;
    }
}
