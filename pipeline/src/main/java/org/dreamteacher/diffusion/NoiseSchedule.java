package org.dreamteacher.diffusion;

import java.util.Arrays;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;

/**
 * The variance schedule of a discrete Gaussian diffusion and every coefficient derived from it, computed in
 * double precision in Java exactly as guided-diffusion does with NumPy (same formulas, same order of
 * operations), so that schedule numbers can be compared with the reference implementation and never depend
 * on libtorch's float arithmetic. Immutable; timesteps are 0-based, {@code t = 0} is the least noisy.
 */
public final class NoiseSchedule {
    private final String name;
    private final double[] betas;
    private final double[] alphasCumprod;
    private final double[] alphasCumprodPrev;
    private final double[] posteriorVariance;
    private final double[] posteriorLogVarianceClipped;
    private final double[] posteriorMeanCoef1;
    private final double[] posteriorMeanCoef2;

    private NoiseSchedule(String name, double[] betas) {
        this.name = name;
        this.betas = betas;
        int n = betas.length;
        alphasCumprod = new double[n];
        alphasCumprodPrev = new double[n];
        double acc = 1.0;
        for (int i = 0; i < n; i++) {
            alphasCumprodPrev[i] = acc;
            acc *= 1.0 - betas[i];
            alphasCumprod[i] = acc;
        }
        posteriorVariance = new double[n];
        posteriorMeanCoef1 = new double[n];
        posteriorMeanCoef2 = new double[n];
        for (int i = 0; i < n; i++) {
            posteriorVariance[i] = betas[i] * (1.0 - alphasCumprodPrev[i]) / (1.0 - alphasCumprod[i]);
            posteriorMeanCoef1[i] = betas[i] * Math.sqrt(alphasCumprodPrev[i]) / (1.0 - alphasCumprod[i]);
            posteriorMeanCoef2[i] = (1.0 - alphasCumprodPrev[i]) * Math.sqrt(1.0 - betas[i]) / (1.0 - alphasCumprod[i]);
        }
        // the posterior variance is 0 at t = 0: its log is clipped to the value at t = 1
        posteriorLogVarianceClipped = new double[n];
        for (int i = 0; i < n; i++) posteriorLogVarianceClipped[i] = Math.log(i == 0 ? posteriorVariance[Math.min(1, n - 1)] : posteriorVariance[i]);
    }

    /** The schedule called {@code name} ("linear" or "cosine") with {@code timesteps} steps. */
    public static NoiseSchedule of(String name, int timesteps) {
        if (name == null) throw new IllegalArgumentException("noise schedule name is null (use \"linear\" or \"cosine\")");
        return switch (name) {
            case "linear" -> linear(timesteps);
            case "cosine" -> cosine(timesteps);
            default -> throw new IllegalArgumentException("unknown noise schedule '" + name + "' (use \"linear\" or \"cosine\")");
        };
    }

    /**
     * DDPM's linear schedule, rescaled as in improved DDPM so that any T covers the same noise range as
     * T = 1000: betas = linspace(s * 1e-4, s * 0.02, T) with s = 1000 / T (NumPy's linspace formula).
     * Needs T &gt;= 21 (otherwise the last beta reaches 1).
     */
    public static NoiseSchedule linear(int timesteps) {
        if (timesteps < 21) throw new IllegalArgumentException("the linear schedule needs timesteps >= 21 (got " + timesteps
                + "): with the 1000/T rescaling the last beta would reach 1");
        double scale = 1000.0 / timesteps;
        double start = scale * 0.0001, stop = scale * 0.02;
        double step = (stop - start) / (timesteps - 1);
        double[] b = new double[timesteps];
        for (int i = 0; i < timesteps; i++) b[i] = start + i * step;
        b[timesteps - 1] = stop;
        return new NoiseSchedule("linear", b);
    }

    /**
     * Nichol &amp; Dhariwal's cosine schedule: alpha_bar(s) = cos((s + 0.008) / 1.008 * pi / 2)^2,
     * beta_i = min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), 0.999).
     */
    public static NoiseSchedule cosine(int timesteps) {
        if (timesteps < 2) throw new IllegalArgumentException("the cosine schedule needs timesteps >= 2 (got " + timesteps + ")");
        double[] b = new double[timesteps];
        for (int i = 0; i < timesteps; i++) {
            double t1 = (double) i / timesteps, t2 = (double) (i + 1) / timesteps;
            b[i] = Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), 0.999);
        }
        return new NoiseSchedule("cosine", b);
    }

    private static double cosineAlphaBar(double s) {
        double c = Math.cos((s + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    public String name() {
        return name;
    }

    public int timesteps() {
        return betas.length;
    }

    public double beta(int t) {
        return betas[check(t)];
    }

    /** alpha_bar_t = prod_{s &lt;= t} (1 - beta_s). */
    public double alphaBar(int t) {
        return alphasCumprod[check(t)];
    }

    /** alpha_bar_{t-1}, 1 at t = 0. */
    public double alphaBarPrev(int t) {
        return alphasCumprodPrev[check(t)];
    }

    public double sqrtAlphaBar(int t) {
        return Math.sqrt(alphaBar(t));
    }

    public double sqrtOneMinusAlphaBar(int t) {
        return Math.sqrt(1.0 - alphaBar(t));
    }

    /** beta_tilde_t = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t), the variance of q(x_{t-1} | x_t, x_0). */
    public double posteriorVariance(int t) {
        return posteriorVariance[check(t)];
    }

    /** log beta_tilde_t, with the value of t = 1 at t = 0 (where beta_tilde is 0). */
    public double posteriorLogVarianceClipped(int t) {
        return posteriorLogVarianceClipped[check(t)];
    }

    /** Coefficient of x_0 in the posterior mean. */
    public double posteriorMeanCoef1(int t) {
        return posteriorMeanCoef1[check(t)];
    }

    /** Coefficient of x_t in the posterior mean. */
    public double posteriorMeanCoef2(int t) {
        return posteriorMeanCoef2[check(t)];
    }

    public double[] betas() {
        return betas.clone();
    }

    public double[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    /** The betas as a float64 tensor (T). */
    public Tensor betasTensor() {
        return doubles(betas);
    }

    /** alpha_bar as a float64 tensor (T). */
    public Tensor alphasCumprodTensor() {
        return doubles(alphasCumprod);
    }

    private static Tensor doubles(double[] values) {
        TorchRuntime.init();
        Tensor t = torch.empty(new long[] {values.length}, new TensorOptions(ScalarType.Double), new MemoryFormatOptional());
        t.data_ptr_double().put(values);
        return t;
    }

    private int check(int t) {
        if (t < 0 || t >= betas.length) throw new IllegalArgumentException("timestep " + t + " is outside [0, " + betas.length + ")");
        return t;
    }

    @Override
    public String toString() {
        return name + "(" + betas.length + ")";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NoiseSchedule n && n.name.equals(name) && Arrays.equals(n.betas, betas);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(betas);
    }
}
