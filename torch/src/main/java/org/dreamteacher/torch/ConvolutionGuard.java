package org.dreamteacher.torch;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Makes sure every float32 convolution a model runs computes what float64 computes, and keeps oneDNN's fast
 * kernels wherever they are right.
 *
 * <p>Why: on AMD family-26 processors (Zen 5, as the project's build machines report them) the oneDNN 3.5+ inside
 * libtorch 2.5 and later computes wrong results, sometimes NaN, in its direct JIT convolutions whenever an
 * activation in a channel-blocked layout has a padded channel count: the forward when the input channels are not
 * a multiple of the block (16 at AVX-512, 8 at AVX2), the input gradient when the output channels are not. At
 * AVX-512 such a partly filled block was sometimes wrong and sometimes right for the same shape, and some stride-2
 * input gradients were wrong even with whole blocks (always, for those shapes). Limited to AVX512_CORE, with
 * every channel count padded to whole blocks of 16 and im2col for the shapes still wrong, 0 of 3,000 random shapes
 * and 0 of 228 model shapes were wrong ({@code benchmarks/results/models-2026-12-06-avx512.md}).
 *
 * <p>What it does:
 * <ul>
 * <li>At start-up ({@link TorchRuntime#init()}): on such a processor, unless the user set
 * {@code ONEDNN_MAX_CPU_ISA}, oneDNN is limited to AVX512_CORE and only routes with whole blocks are used (see
 * {@link #candidates}). NNPACK (which does not run on these processors and only prints warnings) is switched off.
 * A few convolution shapes are checked at once (the canary).</li>
 * <li>Every convolution a model builds ({@code Layers.conv} gives a {@link GuardedConv2d}) asks for its
 * {@link Plan} once per shape and process: the shape is checked against float64 (forward, input and weight
 * gradients, relative error above 1e-4 or NaN is wrong) along its {@link Route}s, fastest first: as it is, with
 * its channel counts zero-padded to multiples of 16 (an internal detail of the forward: the parameters and the
 * math are unchanged), then libtorch's own im2col + BLAS convolution for that shape alone. A grouped shape that
 * is wrong on every route switches oneDNN off for the process (several times slower, but right on every shape
 * measured); a warning is logged and {@link #status()} says so. If even that is wrong the model cannot be built:
 * {@link IllegalStateException}.</li>
 * </ul>
 * {@link #status()} tells what was done (shown by {@code dreamteacher info}).
 */
public final class ConvolutionGuard {
    private static final System.Logger LOG = System.getLogger(ConvolutionGuard.class.getName());
    /** Relative error (max |f32 - f64| / max |f64|) above which a result is wrong. */
    static final double TOLERANCE = 1e-4;
    /** Channel counts are padded to multiples of this (oneDNN's widest block). */
    static final long BLOCK = 16;

    private static final Map<ConvShape, Plan> PLANS = new ConcurrentHashMap<>();
    private static volatile String setting = "not checked";
    private static volatile String fallback;
    private static volatile int padded;
    private static volatile int im2col;
    private static volatile boolean subsampleStrided1x1;
    /** Only routes whose channel counts fill whole blocks (or im2col): see {@link #candidates}. */
    private static volatile boolean wholeBlocks;
    private static volatile long checkNanos;
    /** Off when the embedding application asked libtorch's process-wide settings to be left alone. */
    private static volatile boolean active = true;

    private ConvolutionGuard() {}

    /** A 2-D convolution's shape apart from batch and image size. */
    public record ConvShape(long in, long out, long kernel, long stride, long padding, long groups, boolean bias) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "in %d, out %d, %dx%d, stride %d%s%s", in, out, kernel, kernel, stride,
                    groups == 1 ? "" : ", groups " + groups, bias ? ", bias" : "");
        }
    }

    /**
     * How a shape runs, one route for inputs that need a gradient ({@code gradInput}) and one for those that do not
     * ({@code noGradInput}, an image): the input gradient of the latter is never computed, so it may be wrong
     * without harm.
     */
    public record Plan(Route gradInput, Route noGradInput) {}

    /**
     * One way to run a convolution: oneDNN with {@code in} and {@code out} zero channels added to its input and
     * output (0, 0: as it is; the extra outputs are dropped), or, with {@code im2col}, libtorch's own im2col + BLAS
     * convolution ({@code thnn_conv2d}), slower but independent of oneDNN, for a shape that oneDNN gets wrong
     * however it is padded.
     */
    public record Route(long in, long out, boolean im2col) {
        static final Route NONE = new Route(0, 0, false);
        static final Route IM2COL = new Route(0, 0, true);

        Route(long in, long out) {
            this(in, out, false);
        }

        /** oneDNN, channels as they are. */
        public boolean none() {
            return in == 0 && out == 0 && !im2col;
        }

        @Override
        public String toString() {
            return im2col ? "im2col" : none() ? "as it is" : "channels padded by " + in + " in, " + out + " out";
        }
    }

    /** What the guard found and did, for {@code dreamteacher info}. */
    public static String status() {
        String s = setting;
        int n = PLANS.size();
        if (n > 0) s += String.format(Locale.ROOT, "; %d convolution shape%s checked against float64 in %.1f s (%d run with padded channels, %d by im2col)", n,
                n == 1 ? "" : "s", checkNanos / 1e9, padded, im2col);
        String f = fallback;
        return f == null ? s : s + "; " + f;
    }

    /** The shapes checked so far. */
    public static Set<ConvShape> checked() {
        return Set.copyOf(PLANS.keySet());
    }

    /**
     * Call with {@code true} before a backward pass that differentiates convolutions twice (the gradient of a
     * gradient, as a GAN's R1 penalty needs) and with {@code false} after it. Those second derivatives run as
     * convolutions of other shapes than the guarded ones, unchecked; with AVX-512 kernels on AMD family 26 they were
     * wrong (R1's weight gradients of a small discriminator off by up to 76 % against float64, right at AVX2 and
     * without oneDNN). Where whole blocks are in force, oneDNN is off in between; elsewhere this does nothing.
     */
    public static void secondDerivatives(boolean coming) {
        if (!active || !wholeBlocks || fallback != null) return;
        torch.globalContext().setUserEnabledMkldnn(!coming);
    }

    /** Whether strided 1x1 convolutions run as 1x1 convolutions of the subsampled input (see {@link GuardedConv2d}). */
    static boolean subsampleStrided1x1() {
        return subsampleStrided1x1;
    }

    static void apply() {
        torch.globalContext().setUserEnabledNNPACK(false);
        String isa = System.getenv("ONEDNN_MAX_CPU_ISA");
        int family = amdFamily();
        // oneDNN's strided 1x1 backward crashed (SIGFPE, at AVX2 and AVX-512) for 512 and more input channels here: a
        // crash cannot be checked for, so such convolutions always avoid it on these processors.
        subsampleStrided1x1 = family >= 26;
        if (isa == null && family >= 26) {
            isa = "AVX512_CORE";
            torch.set_env("ONEDNN_MAX_CPU_ISA", isa, true);
            setting = "oneDNN limited to AVX512_CORE on this AMD family-" + family + " processor";
        } else {
            setting = isa != null ? "ONEDNN_MAX_CPU_ISA=" + isa + " (set by the user)" : "oneDNN unrestricted";
        }
        wholeBlocks = family >= 26 && !atMostAvx2(isa);
        if (wholeBlocks) setting += ", channel counts padded to whole blocks of " + BLOCK;
        // The canary: shapes the models use, plus some that were wrong here, so a broken setting shows at once.
        for (long[] s : new long[][] {{1, 32, 3, 1, 1}, {32, 32, 3, 1, 1}, {32, 64, 3, 2, 1}, {64, 128, 1, 2, 0}, {32, 1, 3, 1, 1},
            {24, 12, 3, 2, 1}, {16, 24, 7, 1, 3}}) {
            cachedPlan(new ConvShape(s[0], s[1], s[2], s[3], s[4], 1, false));
        }
    }

    /**
     * Leaves libtorch as it is: no ISA limit, NNPACK untouched, no checks ({@link TorchRuntime#SETTINGS_PROPERTY}
     * {@code =false}); every shape then runs as it is.
     */
    static void leaveAlone() {
        active = false;
        setting = "not applied (" + TorchRuntime.SETTINGS_PROPERTY + "=false): convolutions are not checked";
    }

    /** What {@link #apply()} changed in the process, for the log. */
    static String processSettings() {
        return "NNPACK off; " + setting + (subsampleStrided1x1 ? "; strided 1x1 convolutions run on subsampled inputs" : "");
    }

    /** The plan for a shape, checked against float64 on first use in this process (then cached). */
    public static Plan plan(ConvShape shape) {
        if (!active) return new Plan(Route.NONE, Route.NONE);
        Plan p = PLANS.get(shape);
        if (p != null) return p;
        TorchRuntime.init();
        return cachedPlan(shape);
    }

    private static Plan cachedPlan(ConvShape shape) {
        synchronized (ConvolutionGuard.class) {
            Plan p = PLANS.get(shape);
            if (p != null) return p;
            long t0 = System.nanoTime();
            p = decide(shape);
            checkNanos += System.nanoTime() - t0;
            if (p.gradInput().im2col()) im2col++;
            else if (!p.gradInput().none() || !p.noGradInput().none()) padded++;
            PLANS.put(shape, p);
            return p;
        }
    }

    private static Plan decide(ConvShape s) {
        Route grad = null, noGrad = null;
        String failure = null;
        for (Route c : candidates(s, wholeBlocks)) {
            Errors e = check(s, c);
            if (noGrad == null && e.forwardAndWeightRight()) noGrad = c;
            if (e.allRight()) {
                grad = c;
                break;
            }
            if (failure == null) failure = e.describe();
        }
        if (grad != null) return new Plan(grad, noGrad);
        if (fallback == null) {
            torch.globalContext().setUserEnabledMkldnn(false);
            fallback = "oneDNN was wrong for " + s + " (" + failure + "), padded or not; oneDNN switched off, convolutions use libtorch's "
                    + "slower im2col path";
            LOG.log(Level.WARNING, fallback);
            PLANS.clear(); // shapes checked with oneDNN on are checked again
            padded = 0;
            im2col = 0;
        }
        Errors again = check(s, Route.NONE);
        if (!again.allRight()) {
            throw new IllegalStateException("float32 convolutions are wrong on this machine even without oneDNN: " + s + " ("
                    + again.describe() + "); refusing to train with them");
        }
        return new Plan(Route.NONE, Route.NONE);
    }

    /**
     * The routes to try, fastest first: oneDNN as it is, with the output, the input or both channel counts padded
     * to multiples of 16, then (ungrouped only) im2col. Depthwise convolutions pad input and output together;
     * other grouped ones cannot be padded.
     *
     * <p>With {@code wholeBlocks} (AVX-512 kernels on AMD family 26) only routes whose channel counts are both
     * multiples of 16 are tried, then im2col: there, a convolution with a partly filled block was wrong at some
     * batch and image sizes and right at others (its input gradient wrong in 4 to 32 of 40 checks), and once right
     * in one process and wrong in the next, so a check that passed proves little for it. Routes with whole blocks
     * were right at every size or wrong at every size, which a check finds.
     */
    static List<Route> candidates(ConvShape s, boolean wholeBlocks) {
        Route blocked = new Route(padding(s.in()), padding(s.out()));
        Set<Route> out = new LinkedHashSet<>();
        boolean depthwise = s.groups() == s.in() && s.in() == s.out();
        if (!wholeBlocks || blocked.none() || (s.groups() != 1 && !depthwise)) out.add(Route.NONE);
        if (s.groups() == 1) {
            if (!wholeBlocks) {
                out.add(new Route(0, blocked.out()));
                out.add(new Route(blocked.in(), 0));
            }
            out.add(blocked);
            out.add(Route.IM2COL);
        } else if (depthwise) {
            out.add(blocked);
        }
        return List.copyOf(out);
    }

    /** Whether a ONEDNN_MAX_CPU_ISA value stops at AVX2 or below (null: not limited). */
    static boolean atMostAvx2(String isa) {
        return isa != null && List.of("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2").contains(isa.toUpperCase(Locale.ROOT));
    }

    private static long padding(long channels) {
        return (BLOCK - channels % BLOCK) % BLOCK;
    }

    /** Relative errors of forward, input gradient and weight gradient (bias gradient with the weight's). */
    record Errors(double forward, double input, double weight) {
        boolean allRight() {
            return forward <= TOLERANCE && input <= TOLERANCE && weight <= TOLERANCE;
        }

        boolean forwardAndWeightRight() {
            return forward <= TOLERANCE && weight <= TOLERANCE;
        }

        String describe() {
            return String.format(Locale.ROOT, "relative errors forward %.2g, input grad %.2g, weight grad %.2g", forward, input, weight);
        }
    }

    /** The worst errors over a few batch and image sizes, run the way {@link GuardedConv2d} runs the shape. */
    static Errors check(ConvShape s, Route pad) {
        double f = 0, x = 0, w = 0;
        long k = s.kernel();
        // Odd and even sizes, a batch of 16 (some wrong kernels showed only with larger batches; smaller for wide
        // layers), and a row wider than 16 pixels (some kernels block rows by 16 and more).
        boolean wide = s.in() / s.groups() * s.out() * k * k > 128 * 128 * 9;
        long[][] sizes = {{2, Math.max(k, 7), Math.max(k, 7)}, {3, Math.max(k, 12), Math.max(k, 9)}, {wide ? 8 : 16, Math.max(k, 8), Math.max(k, 8)},
            {2, Math.max(k, 5), Math.max(k, 23)}};
        for (long[] nhw : sizes) {
            Errors e = check(s, pad, nhw[0], nhw[1], nhw[2]);
            f = worst(f, e.forward());
            x = worst(x, e.input());
            w = worst(w, e.weight());
        }
        return new Errors(f, x, w);
    }

    private static double worst(double a, double b) {
        return Double.isNaN(a) || Double.isNaN(b) ? Double.POSITIVE_INFINITY : Math.max(a, b);
    }

    static Errors check(ConvShape s, Route pad, long n, long h, long wd) {
        try (PointerScope scope = new PointerScope()) {
            // Inputs from a Java generator: libtorch's global one is left alone (models are initialised from it
            // while the guard runs, and a seeded model must get the same weights whether or not a shape was checked).
            SplittableRandom r = new SplittableRandom(12345 + 31L * s.hashCode() + n);
            long fanIn = s.in() / s.groups() * s.kernel() * s.kernel();
            Tensor x = uniform(r, 1.0, n, s.in(), h, wd).set_requires_grad(true);
            Tensor w = uniform(r, 1.0 / Math.sqrt(fanIn), s.out(), s.in() / s.groups(), s.kernel(), s.kernel()).set_requires_grad(true);
            Tensor b = s.bias() ? uniform(r, 1.0, s.out()).set_requires_grad(true) : null;
            Tensor xd = x.detach().to(ScalarType.Double).set_requires_grad(true);
            Tensor wdd = w.detach().to(ScalarType.Double).set_requires_grad(true);
            Tensor bd = b == null ? null : b.detach().to(ScalarType.Double).set_requires_grad(true);
            Tensor y = GuardedConv2d.run(x, w, b, s, pad);
            Tensor yd = GuardedConv2d.run(xd, wdd, bd, s, Route.NONE);
            Tensor g = uniform(r, 1.0, y.sizes().vec().get());
            y.backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
            yd.backward(g.to(ScalarType.Double), new BoolOptional(), false, new TensorArrayRefOptional());
            double ew = err(w.grad(), wdd.grad());
            if (b != null) ew = worst(ew, err(b.grad(), bd.grad()));
            return new Errors(err(y, yd), err(x.grad(), xd.grad()), ew);
        }
    }

    /** A float32 tensor of the given shape, uniform in [-scale, scale). */
    private static Tensor uniform(SplittableRandom r, double scale, long... shape) {
        long count = 1;
        for (long d : shape) count *= d;
        float[] v = new float[Math.toIntExact(count)];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return torch.tensor(v).reshape(shape);
    }

    /** Max absolute error relative to the max magnitude of the float64 value (NaN counts as wrong). */
    private static double err(Tensor f32, Tensor f64) {
        double diff = f32.to(ScalarType.Double).sub(f64).abs().max().item_double();
        double scale = Math.max(1e-12, f64.abs().max().item_double());
        return Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff / scale;
    }

    /** The CPU family of an AMD processor from /proc/cpuinfo, or -1. */
    static int amdFamily() {
        try {
            boolean amd = false;
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("vendor_id")) amd = line.contains("AuthenticAMD");
                if (line.startsWith("cpu family") && amd) return Integer.parseInt(line.replaceAll("[^0-9]", ""));
                if (line.isEmpty()) break;
            }
        } catch (IOException | NumberFormatException | SecurityException e) {
            // not Linux, or unreadable: no processor-specific setting
        }
        return -1;
    }
}
