package org.dreamteacher.eval;

import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;

/**
 * Precision and recall of a generated distribution against a real one (Kynkäänniemi et al., "Improved
 * precision and recall metric for assessing generative models", 2019), in a feature space: each set's
 * manifold is the union of balls around its points, each ball's radius the distance to that point's k-th
 * nearest neighbour in the same set. Precision is the share of generated points inside the real manifold
 * (how many samples look real); recall is the share of real points inside the generated manifold (how much of
 * the real variety the generator covers). Distances are Euclidean, in float64; a point on a ball's boundary is
 * inside.
 *
 * <p>Memory: distances are computed in blocks of rows, so they never need more than
 * 512 x (size of the other set) doubles at a time.
 */
public final class PrecisionRecall {
    /** The paper's choice of k. */
    public static final int DEFAULT_K = 3;
    private static final int BLOCK = 512;

    private PrecisionRecall() {}

    /** Precision and recall in [0, 1], with the k they used. */
    public record Result(double precision, double recall, int k) {}

    /**
     * Precision and recall of {@code generated} (M, D) against {@code real} (N, D); both sets need more than
     * {@code k} points.
     */
    public static Result of(Tensor real, Tensor generated, int k) {
        TorchRuntime.init();
        if (k < 1) throw new IllegalArgumentException("k must be >= 1, got " + k);
        check(real, "real", k);
        check(generated, "generated", k);
        if (real.size(1) != generated.size(1))
            throw new IllegalArgumentException("the feature sets have " + real.size(1) + " and " + generated.size(1) + " dimensions");
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor r = real.to(ScalarType.Double).contiguous(), g = generated.to(ScalarType.Double).contiguous();
            Tensor realRadii = radii(r, k), generatedRadii = radii(g, k);
            return new Result(covered(g, r, realRadii), covered(r, g, generatedRadii), k);
        }
    }

    /** Each point's distance to its k-th nearest neighbour in {@code points} (itself excluded): (N). */
    static Tensor radii(Tensor points, int k) {
        long n = points.size(0);
        Tensor out = torch.zeros(new long[] {n}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Double));
        for (long from = 0; from < n; from += BLOCK) {
            long rows = Math.min(BLOCK, n - from);
            try (PointerScope scope = new PointerScope()) {
                Tensor d = distances(points.narrow(0, from, rows), points);
                // The point itself is the nearest, at distance 0: the k-th neighbour is the (k+1)-th smallest.
                out.narrow(0, from, rows).copy_(torch.kthvalue(d, k + 1, 1, false).get0());
            }
        }
        return out;
    }

    /** The share of {@code points} within the radius of at least one point of {@code manifold}. */
    static double covered(Tensor points, Tensor manifold, Tensor manifoldRadii) {
        long n = points.size(0), inside = 0;
        Tensor radiiRow = manifoldRadii.unsqueeze(0);
        for (long from = 0; from < n; from += BLOCK) {
            long rows = Math.min(BLOCK, n - from);
            try (PointerScope scope = new PointerScope()) {
                Tensor within = distances(points.narrow(0, from, rows), manifold).le(radiiRow);
                inside += within.any(1).sum().item_long();
            }
        }
        return (double) inside / n;
    }

    /**
     * Pairwise Euclidean distances (A, B), computed directly rather than through the expansion
     * |a|^2 + |b|^2 - 2ab, which loses the small distances that decide whether a point lies on a ball's boundary.
     */
    private static Tensor distances(Tensor a, Tensor b) {
        return torch.cdist(a, b, 2.0, new org.bytedeco.pytorch.LongOptional(2));
    }

    private static void check(Tensor t, String what, int k) {
        if (t == null || t.isNull() || !t.defined()) throw new IllegalArgumentException("the " + what + " features are undefined");
        if (t.dim() != 2) throw new IllegalArgumentException("the " + what + " features must be (N, D), got " + Arrays.toString(t.sizes().vec().get()));
        if (t.size(0) <= k) throw new IllegalArgumentException("the " + what + " set has " + t.size(0) + " points; k = " + k + " needs more than " + k);
        if (t.size(1) < 1) throw new IllegalArgumentException("the " + what + " features have no columns");
    }
}
