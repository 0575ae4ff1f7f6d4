package org.dreamteacher.diffusion;

import static org.dreamteacher.nn.Layers.s;

import java.util.List;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.FeatureTeacher;
import org.dreamteacher.nn.TeacherInput;
import org.dreamteacher.torch.CpuTensors;
import org.dreamteacher.torch.TorchRuntime;

/**
 * A DDPM (Ho et al.) around an ADM-style {@link UNet}: the forward noising process, the epsilon-prediction
 * training loss, ancestral (DDPM) and DDIM sampling, and, for DreamTeacher, the "encoded" feature dataset:
 * noise a real image to timestep t with fresh noise and read the U-Net's decoder features from one forward
 * pass (docs/design.md section 1).
 *
 * <p>Images are in [-1, 1]. All randomness comes from a {@link Noise} (a seeded Java generator), so a seeded
 * sampler is bit-identical from run to run on the same machine and thread count. Sampling and encoding run
 * the U-Net in eval mode without gradients and restore its previous mode afterwards. The schedule
 * coefficients are computed in double precision ({@link NoiseSchedule}) and applied as float32, as ADM does.
 */
public final class GaussianDiffusion extends ConfiguredModule {
    static {
        TorchRuntime.init();
    }

    /** Called after each sampling step with the number of steps done and the total. */
    @FunctionalInterface
    public interface Progress {
        void update(int done, int total);
    }

    private final DiffusionConfig config;
    private final UNet unet;
    private final NoiseSchedule schedule;

    public GaussianDiffusion(DiffusionConfig config) {
        super();
        this.config = config;
        this.schedule = config.noiseSchedule();
        this.unet = register_module("unet", new UNet(config.unet()));
    }

    @Override
    public DiffusionConfig config() {
        return config;
    }

    public UNet unet() {
        return unet;
    }

    public NoiseSchedule schedule() {
        return schedule;
    }

    public int timesteps() {
        return schedule.timesteps();
    }

    /** x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise, per sample; t is (N) integer timesteps. */
    public Tensor qSample(Tensor x0, Tensor t, Tensor noise) {
        return qSample(schedule, x0, t, noise);
    }

    /** {@link #qSample(Tensor, Tensor, Tensor)} with any schedule. */
    public static Tensor qSample(NoiseSchedule schedule, Tensor x0, Tensor t, Tensor noise) {
        checkImages(x0, -1, "x0");
        if (noise == null || noise.isNull() || !noise.defined() || !sameShape(noise, x0))
            throw new IllegalArgumentException("qSample: noise must have the shape of x0");
        long[] ts = timesteps(t, x0.size(0), schedule.timesteps());
        double[] a = new double[ts.length], b = new double[ts.length];
        for (int i = 0; i < ts.length; i++) {
            a[i] = schedule.sqrtAlphaBar((int) ts[i]);
            b[i] = schedule.sqrtOneMinusAlphaBar((int) ts[i]);
        }
        return x0.mul(perSample(a)).add(noise.mul(perSample(b)));
    }

    /**
     * The simple DDPM loss: mean squared error between the true and predicted noise at timesteps drawn
     * uniformly from [0, T), with fresh Gaussian noise. Both come from {@code noise}.
     */
    public Tensor trainingLoss(Tensor x0, Noise noise) {
        return trainingLoss(x0, noise, null);
    }

    /** The DDPM loss of a class-conditional model ({@code labels} (N)) or, with null labels, an unconditional one. */
    public Tensor trainingLoss(Tensor x0, Noise noise, Tensor labels) {
        checkImages(x0, unet.inChannels(), "x0");
        Tensor t = noise.uniformInts((int) x0.size(0), schedule.timesteps());
        Tensor eps = noise.normalLike(x0);
        Tensor xt = qSample(x0, t, eps);
        return torch.mse_loss(unet.forward(xt, t, labels), eps);
    }

    /** Ancestral sampling with the posterior variance beta_tilde (ADM's "fixed small"), T model calls. */
    public Tensor sampleDdpm(int n, long seed) {
        return sampleDdpm(n, seed, null, null);
    }

    /** Ancestral sampling of an unconditional model, reporting each step to {@code progress} (nullable). */
    public Tensor sampleDdpm(int n, long seed, Progress progress) {
        return sampleDdpm(n, seed, null, progress);
    }

    /**
     * Ancestral sampling of {@code n} images (labels (n) for a class-conditional model, else null); the
     * predicted x_0 is clamped to [-1, 1] at every step and the result too.
     */
    public Tensor sampleDdpm(int n, long seed, Tensor labels, Progress progress) {
        if (n < 1) throw new IllegalArgumentException("sampleDdpm: n must be >= 1, got " + n);
        Noise noise = new Noise(seed);
        UNetConfig u = config.unet();
        Tensor x = noise.normal(n, u.inChannels(), u.imageSize(), u.imageSize());
        int total = schedule.timesteps();
        return inEval(unet, () -> {
            try (NoGradGuard ng = new NoGradGuard()) {
                for (int i = total - 1; i >= 0; i--) {
                    try (PointerScope scope = new PointerScope()) {
                        Tensor eps = unet.forward(x, timestepTensor(n, i), labels);
                        Tensor x0 = clamp(x.mul(s(Math.sqrt(1.0 / schedule.alphaBar(i)))).sub(eps.mul(s(Math.sqrt(1.0 / schedule.alphaBar(i) - 1)))));
                        Tensor mean = x0.mul(s(schedule.posteriorMeanCoef1(i))).add(x.mul(s(schedule.posteriorMeanCoef2(i))));
                        if (i > 0) mean = mean.add(noise.normalLike(x).mul(s(Math.exp(0.5 * schedule.posteriorLogVarianceClipped(i)))));
                        x.copy_(mean);
                    }
                    if (progress != null) progress.update(total - i, total);
                }
            }
            return clampInPlace(x);
        });
    }

    /** DDIM sampling (Song et al.) over {@code steps} evenly spaced timesteps; eta = 0 is deterministic given the start noise. */
    public Tensor sampleDdim(int n, int steps, double eta, long seed) {
        return sampleDdim(n, steps, eta, seed, null, null);
    }

    /** DDIM sampling of an unconditional model, reporting each step to {@code progress} (nullable). */
    public Tensor sampleDdim(int n, int steps, double eta, long seed, Progress progress) {
        return sampleDdim(n, steps, eta, seed, null, progress);
    }

    /**
     * DDIM sampling as guided-diffusion's {@code ddim_sample}: predicted x_0 clamped to [-1, 1], epsilon
     * re-derived from the clamped x_0, sigma = eta sqrt((1 - a') / (1 - a)) sqrt(1 - a / a').
     */
    public Tensor sampleDdim(int n, int steps, double eta, long seed, Tensor labels, Progress progress) {
        if (n < 1) throw new IllegalArgumentException("sampleDdim: n must be >= 1, got " + n);
        if (!(eta >= 0) || Double.isInfinite(eta)) throw new IllegalArgumentException("sampleDdim: eta must be finite and >= 0, got " + eta);
        int[] seq = ddimTimesteps(schedule.timesteps(), steps);
        Noise noise = new Noise(seed);
        UNetConfig u = config.unet();
        Tensor x = noise.normal(n, u.inChannels(), u.imageSize(), u.imageSize());
        return inEval(unet, () -> {
            try (NoGradGuard ng = new NoGradGuard()) {
                for (int k = seq.length - 1; k >= 0; k--) {
                    int t = seq[k];
                    double ab = schedule.alphaBar(t);
                    double abPrev = k > 0 ? schedule.alphaBar(seq[k - 1]) : 1.0;
                    double sigma = eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
                    try (PointerScope scope = new PointerScope()) {
                        Tensor eps = unet.forward(x, timestepTensor(n, t), labels);
                        Tensor scaled = x.mul(s(Math.sqrt(1.0 / ab)));
                        Tensor x0 = clamp(scaled.sub(eps.mul(s(Math.sqrt(1.0 / ab - 1)))));
                        eps = scaled.sub(x0).div(s(Math.sqrt(1.0 / ab - 1)));
                        Tensor next = x0.mul(s(Math.sqrt(abPrev))).add(eps.mul(s(Math.sqrt(Math.max(0.0, 1 - abPrev - sigma * sigma)))));
                        if (k > 0 && sigma > 0) next = next.add(noise.normalLike(x).mul(s(sigma)));
                        x.copy_(next);
                    }
                    if (progress != null) progress.update(seq.length - k, seq.length);
                }
            }
            return clampInPlace(x);
        });
    }

    /** The DDIM timesteps, ascending: floor(i T / steps) for i in [0, steps). */
    public static int[] ddimTimesteps(int timesteps, int steps) {
        if (steps < 1 || steps > timesteps)
            throw new IllegalArgumentException("DDIM steps must be in [1, " + timesteps + "], got " + steps);
        int[] seq = new int[steps];
        for (int i = 0; i < steps; i++) seq[i] = (int) ((long) i * timesteps / steps);
        return seq;
    }

    /**
     * DreamTeacher's encoding: noise {@code x0} to timestep {@code t} with fresh noise from {@code noise} and
     * return the U-Net's configured taps from one forward pass (no gradients, eval mode).
     */
    public List<FeatureMap> encode(Tensor x0, int t, Noise noise) {
        return encode(x0, t, null, noise);
    }

    /** {@link #encode(Tensor, int, Noise)} for a class-conditional U-Net. */
    public List<FeatureMap> encode(Tensor x0, int t, Tensor labels, Noise noise) {
        Tensor xt = noiseTo(schedule, x0, t, noise);
        return inEval(unet, () -> {
            try (NoGradGuard ng = new NoGradGuard()) {
                return unet.features(xt, timestepTensor(x0.size(0), t), labels);
            }
        });
    }

    /**
     * The same encoding with any teacher (for example a TorchScript export) and a schedule: x_t from
     * {@code schedule}, then one {@link FeatureTeacher#features} call without gradients (in eval mode when the
     * teacher is a libtorch module). A teacher that noises its own latents ({@link TeacherInput#CLEAN}) gets
     * {@code x0}, t and noise of its {@link FeatureTeacher#noiseShape} from {@code noise} instead; the schedule
     * then only bounds t.
     */
    public static List<FeatureMap> encode(FeatureTeacher teacher, NoiseSchedule schedule, Tensor x0, int t, Noise noise) {
        checkImages(x0, teacher.inChannels(), "x0");
        if (teacher.input() == TeacherInput.CLEAN) return encodeClean(teacher, schedule, x0, t, noise);
        Tensor xt = noiseTo(schedule, x0, t, noise);
        Supplier<List<FeatureMap>> run = () -> {
            try (NoGradGuard ng = new NoGradGuard()) {
                return teacher.features(xt, timestepTensor(x0.size(0), t));
            }
        };
        return teacher instanceof Module m ? inEval(m, run) : run.get();
    }

    private static List<FeatureMap> encodeClean(FeatureTeacher teacher, NoiseSchedule schedule, Tensor x0, int t, Noise noise) {
        checkTimestep(schedule, t);
        Supplier<List<FeatureMap>> run = () -> {
            try (NoGradGuard ng = new NoGradGuard()) {
                Tensor eps = noise.normal(teacher.noiseShape(x0));
                return teacher.featuresOfClean(x0, timestepTensor(x0.size(0), t), eps);
            }
        };
        return teacher instanceof Module m ? inEval(m, run) : run.get();
    }

    private static void checkTimestep(NoiseSchedule schedule, int t) {
        if (t < 0 || t >= schedule.timesteps())
            throw new IllegalArgumentException("encode: timestep " + t + " is outside [0, " + schedule.timesteps() + ")");
    }

    private static Tensor noiseTo(NoiseSchedule schedule, Tensor x0, int t, Noise noise) {
        checkImages(x0, -1, "x0");
        checkTimestep(schedule, t);
        try (NoGradGuard ng = new NoGradGuard()) {
            return x0.mul(s(schedule.sqrtAlphaBar(t))).add(noise.normalLike(x0).mul(s(schedule.sqrtOneMinusAlphaBar(t))));
        }
    }

    private static <T> T inEval(Module m, Supplier<T> body) {
        boolean training = m.is_training();
        m.eval();
        try {
            return body.get();
        } finally {
            m.train(training);
        }
    }

    private static Tensor timestepTensor(long n, int t) {
        return torch.full(new long[] {n}, s(t), new TensorOptions(ScalarType.Long));
    }

    private static Tensor clamp(Tensor x) {
        return x.clamp(new ScalarOptional(s(-1)), new ScalarOptional(s(1)));
    }

    private static Tensor clampInPlace(Tensor x) {
        return x.clamp_(new ScalarOptional(s(-1)), new ScalarOptional(s(1)));
    }

    /** A float32 (N, 1, 1, 1) tensor of per-sample coefficients. */
    private static Tensor perSample(double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
        return CpuTensors.floats(f, f.length, 1, 1, 1);
    }

    private static long[] timesteps(Tensor t, long n, int total) {
        if (t == null || t.isNull() || !t.defined() || t.dim() != 1 || t.size(0) != n)
            throw new IllegalArgumentException("timesteps must be a 1-D tensor of length N = " + n);
        Tensor c = t.to(ScalarType.Long).contiguous();
        long[] ts = new long[(int) n];
        if (n > 0) c.data_ptr_long().get(ts);
        for (long v : ts)
            if (v < 0 || v >= total) throw new IllegalArgumentException("timestep " + v + " is outside [0, " + total + ")");
        return ts;
    }

    private static void checkImages(Tensor x, long channels, String what) {
        if (x == null || x.isNull() || !x.defined()) throw new IllegalArgumentException(what + " is undefined");
        if (x.dim() != 4) throw new IllegalArgumentException(what + " must be 4-D (N, C, H, W), got " + x.dim() + "-D");
        if (channels > 0 && x.size(1) != channels)
            throw new IllegalArgumentException(what + " has " + x.size(1) + " channels, the model expects " + channels);
    }

    private static boolean sameShape(Tensor a, Tensor b) {
        return java.util.Arrays.equals(a.sizes().vec().get(), b.sizes().vec().get());
    }
}
