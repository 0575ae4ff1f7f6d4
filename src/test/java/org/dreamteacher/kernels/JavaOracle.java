package org.dreamteacher.kernels;

/**
 * The three losses and their student gradients written out plainly in Java double precision, from the
 * formulas of {@code dreamteacher.h}: the reference of the libtorch-free tests. Arrays are row-major; the
 * gradient (times {@code scale}) is written into {@code grad}.
 */
final class JavaOracle {
    private JavaOracle() {}

    /** Whitened MSE on (n, c, positions). */
    static double whitenedMse(float[] s, float[] t, int n, int c, int positions, WhitenMode mode, double eps,
            double scale, double[] grad) {
        double[] whitened = new double[s.length];
        for (int i = 0; i < n; i++) {
            if (mode == WhitenMode.PER_SAMPLE) {
                int base = i * c * positions, count = c * positions;
                whiten(t, base, 1, count, eps, whitened);
            } else {
                for (int p = 0; p < positions; p++) whiten(t, i * c * positions + p, positions, c, eps, whitened);
            }
        }
        double loss = 0;
        for (int i = 0; i < s.length; i++) {
            double diff = s[i] - whitened[i];
            loss += diff * diff;
            grad[i] = scale * 2 * diff / s.length;
        }
        return loss / s.length;
    }

    /** LayerNorm without affine parameters of count values from base, stride apart (biased variance). */
    private static void whiten(float[] t, int base, int stride, int count, double eps, double[] out) {
        double mean = 0;
        for (int j = 0; j < count; j++) mean += t[base + j * stride];
        mean /= count;
        double var = 0;
        for (int j = 0; j < count; j++) var += Math.pow(t[base + j * stride] - mean, 2);
        var /= count;
        double inv = 1 / Math.sqrt(var + eps);
        for (int j = 0; j < count; j++) out[base + j * stride] = (t[base + j * stride] - mean) * inv;
    }

    /** Attention transfer; student (n, cs, positions), teacher (n, ct, positions). */
    static double attentionTransfer(float[] s, int cs, float[] t, int ct, int n, int positions, double p,
            AttentionDistance distance, double eps, double scale, double[] grad) {
        double loss = 0;
        for (int i = 0; i < n; i++) {
            double[] as = pool(s, i, cs, positions, p), at = pool(t, i, ct, positions, p);
            double ns = norm(as), nt = norm(at);
            double[] qs = new double[positions], qt = new double[positions], diff = new double[positions];
            for (int j = 0; j < positions; j++) {
                qs[j] = as[j] / Math.max(ns, eps);
                qt[j] = at[j] / Math.max(nt, eps);
                diff[j] = qs[j] - qt[j];
            }
            double dist = norm(diff);
            double[] dq = new double[positions]; // dL/dq_s
            if (distance == AttentionDistance.SQUARED) {
                loss += dist * dist / ((double) n * positions);
                for (int j = 0; j < positions; j++) dq[j] = 2 * diff[j] / ((double) n * positions);
            } else {
                loss += dist / n;
                for (int j = 0; j < positions; j++) dq[j] = dist == 0 ? 0 : diff[j] / (n * dist);
            }
            // q = A / max(|A|, eps): through the norm only when it is above eps
            double[] da = new double[positions];
            double qdq = 0;
            for (int j = 0; j < positions; j++) qdq += qs[j] * dq[j];
            for (int j = 0; j < positions; j++) {
                da[j] = ns > eps ? (dq[j] - qs[j] * qdq) / ns : dq[j] / eps;
            }
            for (int ch = 0; ch < cs; ch++) {
                for (int j = 0; j < positions; j++) {
                    int idx = (i * cs + ch) * positions + j;
                    double x = s[idx], ax = Math.abs(x);
                    double dx = ax == 0 ? 0 : Math.signum(x) * p * Math.pow(ax, p - 1);
                    grad[idx] = scale * da[j] * dx;
                }
            }
        }
        return loss;
    }

    private static double[] pool(float[] x, int i, int channels, int positions, double p) {
        double[] a = new double[positions];
        for (int ch = 0; ch < channels; ch++) {
            for (int j = 0; j < positions; j++) a[j] += Math.pow(Math.abs(x[(i * channels + ch) * positions + j]), p);
        }
        return a;
    }

    private static double norm(double[] v) {
        double sum = 0;
        for (double x : v) sum += x * x;
        return Math.sqrt(sum);
    }

    /** Soft-target cross entropy on logits (n, k, positions), k the class dimension. */
    static double softTargetCe(float[] s, float[] t, int n, int k, int positions, double tau, double scale,
            double[] grad) {
        double loss = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < positions; j++) {
                double[] ps = softmax(s, i, k, positions, j, tau), pt = softmax(t, i, k, positions, j, tau);
                for (int c = 0; c < k; c++) {
                    int idx = (i * k + c) * positions + j;
                    loss -= pt[c] * Math.log(ps[c]);
                    grad[idx] = scale * (ps[c] - pt[c]) / (tau * n * positions);
                }
            }
        }
        return loss / ((double) n * positions);
    }

    private static double[] softmax(float[] x, int i, int k, int positions, int j, double tau) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < k; c++) max = Math.max(max, x[(i * k + c) * positions + j] / tau);
        double sum = 0;
        double[] e = new double[k];
        for (int c = 0; c < k; c++) {
            e[c] = Math.exp(x[(i * k + c) * positions + j] / tau - max);
            sum += e[c];
        }
        for (int c = 0; c < k; c++) e[c] /= sum;
        return e;
    }
}
