package org.dreamteacher.torch;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.nn.ResNetConfig;

/**
 * Measures float32 convolutions against float64 (forward, input gradient, weight gradient; relative error above
 * 1e-4 or NaN is wrong) on the project's model shapes and a seeded random sweep, and times training steps, under
 * whatever oneDNN setting the process runs with. Run one JVM per setting:
 *
 * <pre>
 * ONEDNN_MAX_CPU_ISA=SSE41 java -cp cli/target/test-classes:cli/target/classes:$(cat cli/target/cp.txt) org.dreamteacher.torch.ConvProbe sweep [raw] [mkldnn-off] [pad16]
 * java ... org.dreamteacher.torch.ConvProbe sweep guarded      (the guard's own choice and plans, as the library runs)
 * java ... org.dreamteacher.torch.ConvProbe routes [-Drepeats=40] (every route of a few shapes, checked again and again)
 * ONEDNN_MAX_CPU_ISA=ALL   java ... org.dreamteacher.torch.ConvProbe time [raw] [mkldnn-off] [only=MODEL]
 * </pre>
 *
 * Without ONEDNN_MAX_CPU_ISA the guard chooses (AVX512_CORE with whole channel blocks on AMD family 26). {@code raw} undoes the guard's fallback
 * (oneDNN off) to measure oneDNN itself; the "sweep" without {@code guarded} runs every shape as it is (or padded
 * with {@code pad16}), ignoring the guard's plans; "time" runs the models as built, so with the guard's plans.
 * {@code -Dseed=S -Dcount=N} pick another random sweep. {@code -Dnocheck=true} lets a step with a non-finite loss (a wrong kernel) be timed anyway.
 */
public final class ConvProbe {
    static final double TOL = 1e-4;
    static boolean GUARDED;

    record Shape(long n, long in, long out, long k, long stride, long pad, long groups, long h, long w) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "n%d %d->%d k%d s%d p%d g%d %dx%d", n, in, out, k, stride, pad, groups, h, w);
        }
    }

    public static void main(String[] args) throws Exception {
        Set<String> a = Set.of(args);
        TorchRuntime.init();
        // mkldnn-off: libtorch's own convolutions; raw: oneDNN on even where the guard switched it off (to measure it).
        if (a.contains("mkldnn-off")) torch.globalContext().setUserEnabledMkldnn(false);
        else if (a.contains("raw")) torch.globalContext().setUserEnabledMkldnn(true);
        boolean mkldnn = torch.globalContext().userEnabledMkldnn();
        GUARDED = a.contains("guarded");
        int threads = Integer.getInteger("threads", 2);
        torch.set_num_threads(threads);
        String setting = "ONEDNN_MAX_CPU_ISA=" + System.getenv("ONEDNN_MAX_CPU_ISA") + (mkldnn ? "" : " mkldnn off")
                + (a.contains("pad16") ? " pad16" : "") + (GUARDED ? " guarded (the guard's plan per shape)" : "") + ", " + threads + " threads";
        for (String x : args) {
            if (!x.startsWith("shape=")) continue;
            long[] v = java.util.Arrays.stream(x.substring(6).split(",")).mapToLong(Long::parseLong).toArray();
            Shape sh = new Shape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
            double[] e = errors(sh, a.contains("pad16"));
            System.out.printf(Locale.ROOT, "%s (%s): fwd %.2g dx %.2g dw %.2g%n", sh, setting, e[0], e[1], e[2]);
        }
        if (a.contains("models")) {
            long t0 = System.nanoTime();
            buildModels();
            System.out.printf(Locale.ROOT, "built the demo's and the benchmarks' U-Nets and ResNet-18s in %.1f s; guard: %s%n",
                    (System.nanoTime() - t0) / 1e9, ConvolutionGuard.status());
        }
        if (a.contains("sweep")) sweep(setting, a.contains("pad16"));
        if (a.contains("routes")) routes(setting, Integer.getInteger("repeats", 40));
        if (a.contains("time")) time(setting, a);
    }

    // ---- correctness ----

    static List<Shape> modelShapes() {
        // Every convolution of the project's models (ConvolutionGuard's registry, filled by Layers.conv), at the
        // input sizes they see in the demo (28x28 and below) and the benchmarks (32x32).
        List<Shape> out = new ArrayList<>();
        for (ConvolutionGuard.ConvShape c : ConvolutionGuard.checked()) {
            for (long hw : new long[] {28, 14, 7, 32, 16, 8}) {
                if (hw < c.kernel()) continue;
                out.add(new Shape(4, c.in(), c.out(), c.kernel(), c.stride(), c.padding(), c.groups(), hw, hw));
            }
        }
        return out;
    }

    static void buildModels() {
        List<AutoCloseable> built = new ArrayList<>();
        built.add(DiffusionConfig.of(UNetConfig.of(1, 28, 32, List.of(1, 2, 2)).withNumResBlocks(1).withAttention(List.of(7), 4, true)
                .withTaps(List.of(0, 2, 4))).build());
        built.add(DiffusionConfig.of(UNetConfig.of(3, 32, 32, List.of(1, 2, 2)).withNumResBlocks(1).withAttention(List.of(8), 4, true)).build());
        built.add(ResNetConfig.small(18, 16, 1, 10).build());
        built.add(ResNetConfig.small(18, 64, 3, 10).build());
        for (AutoCloseable c : built) {
            try {
                c.close();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }
    }

    static List<Shape> randomShapes(int count, long seed) {
        Random r = new Random(seed);
        long[] ch = {1, 2, 3, 4, 8, 10, 11, 12, 16, 20, 24, 32, 40, 48, 64};
        long[] ks = {1, 3, 5, 7};
        long[] ns = {1, 2, 4, 8, 16};
        List<Shape> out = new ArrayList<>();
        while (out.size() < count) {
            long k = ks[r.nextInt(ks.length)], s = 1 + r.nextInt(2), hw = 4 + r.nextInt(17);
            boolean dw = r.nextInt(8) == 0;
            long cin = ch[r.nextInt(ch.length)], cout = dw ? cin : ch[r.nextInt(ch.length)];
            if (hw + 2 * (k / 2) < k) continue;
            out.add(new Shape(ns[r.nextInt(ns.length)], cin, cout, k, s, k / 2, dw ? cin : 1, hw, 4 + r.nextInt(17)));
        }
        return out;
    }

    static void sweep(String setting, boolean pad16) {
        buildModels();
        Set<Shape> model = new LinkedHashSet<>(modelShapes());
        List<Shape> random = randomShapes(Integer.getInteger("count", 300), Long.getLong("seed", 2026_12_05L));
        System.out.println("setting: " + setting);
        System.out.println("registered conv shapes: " + ConvolutionGuard.checked().size());
        report("model shapes", new ArrayList<>(model), pad16);
        report("random shapes", random, pad16);
        if (GUARDED) System.out.println("guard: " + ConvolutionGuard.status());
    }

    /**
     * Whether a route is wrong every time or only sometimes: each route the guard may try for a few shapes that
     * were wrong here, checked {@code repeats} times at changing batch and image sizes.
     */
    static void routes(String setting, int repeats) {
        System.out.println("setting: " + setting + "; each route checked " + repeats + " times (batch 1-3, images 4-20 x 4-22)");
        long[][] shapes = {{3, 3, 3, 2, 1}, {10, 3, 3, 1, 1}, {1, 8, 7, 1, 3}, {8, 12, 3, 1, 1}, {2, 8, 3, 1, 1}, {32, 3, 3, 1, 1}, {32, 1, 3, 1, 1},
            {3, 64, 3, 1, 1}, {48, 64, 3, 2, 1}, {40, 11, 5, 2, 2}, {32, 32, 3, 1, 1}};
        for (long[] s : shapes) {
            ConvolutionGuard.ConvShape cs = new ConvolutionGuard.ConvShape(s[0], s[1], s[2], s[3], s[4], 1, false);
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-28s plan %-22s", cs, ConvolutionGuard.plan(cs).gradInput()));
            for (ConvolutionGuard.Route r : ConvolutionGuard.candidates(cs, false)) {
                int wrong = 0;
                for (int i = 0; i < repeats; i++) {
                    long n = 1 + i % 3, h = Math.max(s[2], 4 + (i * 7) % 17), w = Math.max(s[2], 4 + (i * 5) % 19);
                    if (!ConvolutionGuard.check(cs, r, n, h, w).allRight()) wrong++;
                }
                line.append(String.format(Locale.ROOT, " | %s: %d", r, wrong));
            }
            System.out.println(line);
        }
    }

    static void report(String label, List<Shape> shapes, boolean pad16) {
        int wrongF = 0, wrongX = 0, wrongW = 0, wrong = 0;
        long t0 = System.nanoTime();
        List<String> examples = new ArrayList<>();
        for (Shape s : shapes) {
            double[] e = errors(s, pad16);
            boolean bf = !(e[0] <= TOL), bx = !(e[1] <= TOL), bw = !(e[2] <= TOL);
            if (bf) wrongF++;
            if (bx) wrongX++;
            if (bw) wrongW++;
            if (bf || bx || bw) {
                wrong++;
                if (examples.size() < 40) examples.add(String.format(Locale.ROOT, "  %s: fwd %.2g dx %.2g dw %.2g", s, e[0], e[1], e[2]));
            }
        }
        System.out.printf(Locale.ROOT, "%s: %d checked, %d wrong (forward %d, input grad %d, weight grad %d), %.1f s%n", label, shapes.size(),
                wrong, wrongF, wrongX, wrongW, (System.nanoTime() - t0) / 1e9);
        examples.forEach(System.out::println);
    }

    /** Relative errors (max |f32 - f64| / max |f64|) of forward, input gradient and weight gradient. */
    static double[] errors(Shape s, boolean pad16) {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(s.hashCode());
            Tensor x = torch.randn(s.n(), s.in(), s.h(), s.w()).set_requires_grad(true);
            Tensor w = torch.randn(s.out(), s.in() / s.groups(), s.k(), s.k())
                    .mul(new Scalar(1.0 / Math.sqrt(s.in() / s.groups() * s.k() * s.k()))).set_requires_grad(true);
            Tensor xd = x.detach().to(ScalarType.Double).set_requires_grad(true);
            Tensor wd = w.detach().to(ScalarType.Double).set_requires_grad(true);
            Tensor y;
            if (GUARDED) {
                ConvolutionGuard.ConvShape cs = new ConvolutionGuard.ConvShape(s.in(), s.out(), s.k(), s.stride(), s.pad(), s.groups(), false);
                y = GuardedConv2d.run(x, w, null, cs, ConvolutionGuard.plan(cs).gradInput());
            } else {
                y = pad16 && s.groups() == 1 ? padded(x, w, s) : conv(x, w, s);
            }
            Tensor yd = conv(xd, wd, s);
            Tensor g = torch.randn(y.sizes().vec().get());
            y.backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
            yd.backward(g.to(ScalarType.Double), new BoolOptional(), false, new TensorArrayRefOptional());
            return new double[] {err(y, yd), err(x.grad(), xd.grad()), err(w.grad(), wd.grad())};
        }
    }

    static Tensor conv(Tensor x, Tensor w, Shape s) {
        return torch.conv2d(x, w, new TensorOptional(), new long[] {s.stride()}, new long[] {s.pad()}, new long[] {1}, s.groups());
    }

    /** The convolution with both channel counts zero-padded to multiples of 16 (the extra outputs dropped). */
    static Tensor padded(Tensor x, Tensor w, Shape s) {
        long pin = (16 - s.in() % 16) % 16, pout = (16 - s.out() % 16) % 16;
        Tensor xp = pin == 0 ? x : torch.constant_pad_nd(x, new long[] {0, 0, 0, 0, 0, pin}, new Scalar(0.0));
        Tensor wp = pin == 0 && pout == 0 ? w : torch.constant_pad_nd(w, new long[] {0, 0, 0, 0, 0, pin, 0, pout}, new Scalar(0.0));
        Tensor y = conv(xp, wp, s);
        return pout == 0 ? y : y.narrow(1, 0, s.out());
    }

    static double err(Tensor f32, Tensor f64) {
        double diff = f32.to(ScalarType.Double).sub(f64).abs().max().item_double();
        double scale = Math.max(1e-12, f64.abs().max().item_double());
        return Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff / scale;
    }

    // ---- speed ----

    static void time(String setting, Set<String> a) {
        int warm = Integer.getInteger("warmup", 2), iters = Integer.getInteger("iterations", 5);
        System.out.println("setting: " + setting + "; convolutions: " + ConvolutionGuard.status());
        for (String model : new String[] {"resnet18-w16-b32-28", "unet-demo-b32-28", "resnet18-w64-b64-32", "unet-bench-b64-32"}) {
            if (a.stream().anyMatch(x -> x.startsWith("only=")) && !a.contains("only=" + model)) continue;
            double[][] r = timeModel(model, warm, iters);
            double[] ms = r[0], cpu = r[1];
            java.util.Arrays.sort(ms);
            java.util.Arrays.sort(cpu);
            System.out.printf(Locale.ROOT, "%s: wall median %.0f ms, min %.0f ms, max %.0f ms; process CPU median %.0f ms, min %.0f ms (%d steps)%n",
                    model, ms[ms.length / 2], ms[0], ms[ms.length - 1], cpu[cpu.length / 2], cpu[0], ms.length);
        }
    }

    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static double[][] timeModel(String model, int warm, int iters) {
        boolean big = model.endsWith("-32");
        long batch = big ? 64 : 32, c = big ? 3 : 1, hw = big ? 32 : 28;
        torch.manual_seed(0);
        Noise noise = new Noise(0);
        Tensor images = noise.normal(batch, c, hw, hw).retainReference();
        Tensor labels = noise.uniformInts((int) batch, 10).retainReference();
        GaussianDiffusion diffusion = null;
        ResNet resnet = null;
        AdamW opt;
        if (model.startsWith("unet")) {
            UNetConfig u = big ? UNetConfig.of(3, 32, 32, List.of(1, 2, 2)).withNumResBlocks(1).withAttention(List.of(8), 4, true)
                    : UNetConfig.of(1, 28, 32, List.of(1, 2, 2)).withNumResBlocks(1).withAttention(List.of(7), 4, true).withTaps(List.of(0, 2, 4));
            diffusion = DiffusionConfig.of(u).build();
            opt = new AdamW(diffusion.parameters(), new AdamWOptions(2e-4));
        } else {
            resnet = (ResNet) (big ? ResNetConfig.small(18, 64, 3, 10) : ResNetConfig.small(18, 16, 1, 10)).build();
            opt = new AdamW(resnet.parameters(), new AdamWOptions(1e-3));
        }
        double[] ms = new double[iters], cpu = new double[iters];
        for (int i = 0; i < warm + iters; i++) {
            long t0 = System.nanoTime(), c0 = cpuNanos();
            try (PointerScope scope = new PointerScope()) {
                Tensor loss = diffusion != null ? diffusion.trainingLoss(images, noise) : torch.cross_entropy(resnet.classify(images), labels);
                opt.zero_grad();
                loss.backward();
                opt.step();
                if (!Float.isFinite(loss.item_float()) && !Boolean.getBoolean("nocheck")) throw new IllegalStateException("non-finite loss");
            }
            if (i >= warm) {
                ms[i - warm] = (System.nanoTime() - t0) / 1e6;
                cpu[i - warm] = (cpuNanos() - c0) / 1e6;
            }
        }
        opt.close();
        if (diffusion != null) diffusion.close();
        if (resnet != null) resnet.close();
        return new double[][] {ms, cpu};
    }
}
