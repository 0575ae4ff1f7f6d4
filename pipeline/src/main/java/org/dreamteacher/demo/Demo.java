package org.dreamteacher.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.TeacherTrainer;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.distill.Distiller;
import org.dreamteacher.eval.BackboneSource;
import org.dreamteacher.eval.Classifier;
import org.dreamteacher.eval.Mode;
import org.dreamteacher.nn.Backbones;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureRegressor;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.AtomicWrite;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.viz.Charts;
import org.dreamteacher.viz.FeaturePictures;
import org.dreamteacher.viz.Plots;
import org.dreamteacher.viz.SampleGrids;

/**
 * DreamTeacher end to end in a few minutes on the embedded Fashion-MNIST subset: a diffusion teacher (the shipped
 * one, say) draws a few samples and is distilled into a small ResNet-18 without labels, which is then linearly
 * probed and fine-tuned with 1% of the labels next to the same network from random initialisation. Every stage
 * writes its pictures into the output folder, and {@code results.json} sums the run up. Progress is told line by
 * line to a {@link Reporter}; nothing is printed.
 */
public final class Demo {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Receives one line per event of a stage, e.g. {@code "[distill] loss 1.2 -> 0.4 in 50 s"}. */
    @FunctionalInterface
    public interface Reporter {
        void line(String text);
    }

    /** The demo's sizes: {@link #full()}, or {@link #quick()} for a smoke run of every stage. */
    public record Plan(int samples, int sampleSteps, int distillSteps, int distillBatch, int regressorChannels, int width, int timestep,
            double labelFraction, int probeSteps, int finetuneSteps, int finetuneBatch, int testImages) {
        public Plan {
            for (int v : new int[] {samples, sampleSteps, distillSteps, distillBatch, regressorChannels, width, probeSteps, finetuneSteps,
                finetuneBatch, testImages})
                if (v <= 0) throw new IllegalArgumentException("every size of the demo must be > 0: " + v);
            if (!(labelFraction > 0 && labelFraction <= 1)) throw new IllegalArgumentException("label fraction must be in (0, 1]");
        }

        /** The demo as documented: 150 distillation steps, the probe solved to convergence, 100 fine-tuning steps, 1000 test images. */
        public static Plan full() {
            return new Plan(16, 20, 150, 32, 32, 16, 50, 0.01, 1000, 100, 30, 1000);
        }

        /** A few steps of every stage and 100 test images. */
        public static Plan quick() {
            return new Plan(4, 2, 3, 8, 16, 16, 50, 0.01, 3, 3, 30, 100);
        }

        public Plan withDistillSteps(int n) {
            return new Plan(samples, sampleSteps, n, distillBatch, regressorChannels, width, timestep, labelFraction, probeSteps, finetuneSteps,
                    finetuneBatch, testImages);
        }

        public Plan withProbeSteps(int n) {
            return new Plan(samples, sampleSteps, distillSteps, distillBatch, regressorChannels, width, timestep, labelFraction, n, finetuneSteps,
                    finetuneBatch, testImages);
        }

        public Plan withFinetuneSteps(int n) {
            return new Plan(samples, sampleSteps, distillSteps, distillBatch, regressorChannels, width, timestep, labelFraction, probeSteps, n,
                    finetuneBatch, testImages);
        }

        public Plan withTestImages(int n) {
            return new Plan(samples, sampleSteps, distillSteps, distillBatch, regressorChannels, width, timestep, labelFraction, probeSteps,
                    finetuneSteps, finetuneBatch, n);
        }
    }

    /**
     * What the demo measured: test accuracy by init ("DreamTeacher", "random init") as {linear probe, fine-tuning},
     * with how many labelled and test images, and the summary written to {@code results.json}.
     */
    public record Result(Map<String, double[]> accuracy, int labelledImages, int testImages, double seconds, double cpuSeconds, ObjectNode summary) {}

    private final Plan plan;
    private final long seed;
    private final TensorLossKernels kernels;
    private final Reporter reporter;

    public Demo(Plan plan, long seed, TensorLossKernels kernels, Reporter reporter) {
        this.plan = Objects.requireNonNull(plan);
        this.seed = seed;
        this.kernels = Objects.requireNonNull(kernels);
        this.reporter = Objects.requireNonNull(reporter);
    }

    /** Runs every stage with {@code teacher} (a 1 x 28 x 28 diffusion model) and writes into {@code out}. */
    public Result run(GaussianDiffusion teacher, String teacherSource, Path out) throws IOException {
        UNetConfig u = teacher.config().unet();
        if (u.inChannels() != 1 || u.imageSize() != FashionMnist.SIZE)
            throw new IllegalArgumentException("the demo needs a teacher of 1 x 28 x 28 images (Fashion-MNIST), this one is for " + u.inChannels()
                    + " x " + u.imageSize() + " x " + u.imageSize());
        long t0 = System.nanoTime();
        double cpu0 = cpuSeconds();
        Files.createDirectories(out);
        FashionMnist data = FashionMnist.embeddedSubset();
        ImageDataset train = data.train();
        ImageDataset test = Classifier.testSubset(data.test(), plan.testImages());
        ObjectNode results = JSON.createObjectNode();
        Map<String, Double> seconds = new LinkedHashMap<>();
        Map<String, Double> cpuAt = new LinkedHashMap<>();

        // 1. The teacher's samples.
        long t = System.nanoTime();
        say("[teacher] %s: U-Net base %d, mult %s, taps %s; %s schedule, T = %d", teacherSource, u.baseChannels(), u.channelMult(), u.taps(),
                teacher.config().schedule(), teacher.timesteps());
        Path samples = out.resolve("teacher-samples.png");
        SampleGrids.diffusion(teacher, plan.samples(), "ddim", plan.sampleSteps(), 0.0, seed, samples);
        say("[teacher] %d samples (DDIM, %d steps): %s", plan.samples(), plan.sampleSteps(), samples);
        seconds.put("teacher", since(t));
        cpuAt.put("teacher", cpuSeconds());
        results.put("teacher", teacherSource);

        // 2. Distillation, without labels.
        t = System.nanoTime();
        ResNetConfig backboneConfig = ResNetConfig.small(18, plan.width(), 1, 0);
        Distiller.Settings d = Distiller.Settings.defaults();
        Distiller.Settings ds = Distiller.Settings.defaults().withSteps(plan.distillSteps()).withBatchSize(plan.distillBatch())
                .withWarmupSteps(Math.min(d.warmupSteps(), Math.max(1, plan.distillSteps() / 10))).withSeed(seed)
                .withTimestep(plan.timestep()).withCheckpointEvery(plan.distillSteps())
                .withLogEvery(Math.max(1, Math.min(5, plan.distillSteps() / 10))).withRegressorChannels(plan.regressorChannels());
        Distiller distiller = new Distiller(teacher.unet(), teacher.schedule(), teacherSource, backboneConfig, train, kernels, ds);
        Path runDir = out.resolve("distill");
        clearPreviousRun(runDir);
        say("[distill] %s <- teacher features at t = %d: %d steps, batch %d, %d unlabelled images, regressor %d channels",
                Backbones.describe(backboneConfig), plan.timestep(), plan.distillSteps(), plan.distillBatch(), train.size(), plan.regressorChannels());
        Distiller.Result r = distiller.run(runDir, false);
        say("[distill] %s", r.pairing().describe());
        say("[distill] loss %.3f -> %.3f in %.0f s", r.firstLoss(), r.lastLoss(), r.seconds());
        Path lossCurve = out.resolve("distill-loss.png");
        Charts.lossCurve(runDir.resolve("metrics.jsonl"), lossCurve, "distillation loss", List.of("loss", "whitened_mse", "attention"));
        Path pca = out.resolve("pca-features.png");
        try (ConfiguredModule b = Checkpoints.load(r.backboneFile());
                FeatureRegressor reg = Checkpoints.load(runDir.resolve("regressor.dtt"), FeatureRegressor.class)) {
            FeaturePictures.write(pca, teacher.unet(), teacher.schedule(), plan.timestep(), b, reg, r.pairing().teacherNames(),
                    r.pairing().backboneLevels(), test, 4, seed);
        }
        say("[distill] loss curve %s, features (PCA, teacher vs student) %s", lossCurve, pca);
        seconds.put("distill", since(t));
        cpuAt.put("distill", cpuSeconds());
        results.put("distillSteps", plan.distillSteps()).put("distillLossFirst", r.firstLoss()).put("distillLossLast", r.lastLoss());

        // 3. Few labels: the distilled backbone against the same network from random initialisation.
        t = System.nanoTime();
        List<BackboneSource> inits = List.of(BackboneSource.pretrained(r.backboneFile()).named("DreamTeacher"),
                BackboneSource.randomInit(backboneConfig).named("random init"));
        Classifier.Settings probe = Classifier.Settings.defaults(Mode.LINEAR_PROBE).withLabelFraction(plan.labelFraction())
                .withSteps(plan.probeSteps()).withSeed(seed);
        Classifier.Settings finetune = Classifier.Settings.defaults(Mode.FINE_TUNE).withLabelFraction(plan.labelFraction())
                .withSteps(plan.finetuneSteps()).withBatchSize(plan.finetuneBatch()).withSeed(seed);
        Map<String, double[]> accuracy = new LinkedHashMap<>();
        int labelled = 0;
        for (BackboneSource init : inits) {
            double[] acc = new double[2];
            int k = 0;
            for (Classifier.Settings s : List.of(probe, finetune)) {
                say("[evaluate] %s: %s with %s of the labels, %s", init.name(), s.mode() == Mode.LINEAR_PROBE ? "linear probe" : "fine-tuning",
                        percent(plan.labelFraction()),
                        s.mode() == Mode.LINEAR_PROBE ? "solved to convergence (at most " + s.steps() + " iterations)" : s.steps() + " steps");
                Classifier.Result res = Classifier.run(init, train, test, s);
                acc[k++] = res.accuracy();
                labelled = res.trainSamples();
            }
            accuracy.put(init.name(), acc);
        }
        seconds.put("evaluate", since(t));
        cpuAt.put("evaluate", cpuSeconds());
        Map<String, double[][]> bars = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> e : accuracy.entrySet())
            bars.put(e.getKey(), new double[][] {{100 * e.getValue()[0]}, {100 * e.getValue()[1]}});
        Plots.barChart(out.resolve("accuracy.png"), "Fashion-MNIST, " + labelled + " labelled images (" + percent(plan.labelFraction()) + "), "
                + test.size() + " test images", "", "test accuracy (%)", List.of("linear probe", "fine-tuning"), bars);

        double total = since(t0);
        seconds.put("total", total);
        double cpu = cpu0 < 0 ? -1 : Math.round(10 * (cpuSeconds() - cpu0)) / 10.0;
        ObjectNode acc = results.putObject("accuracy");
        for (Map.Entry<String, double[]> e : accuracy.entrySet())
            acc.putObject(e.getKey()).put("linearProbe", e.getValue()[0]).put("fineTune", e.getValue()[1]);
        results.put("labelledImages", labelled).put("testImages", test.size()).put("seed", seed);
        results.set("plan", JSON.valueToTree(plan));
        results.set("seconds", JSON.valueToTree(seconds));
        ObjectNode cpuPhases = results.putObject("cpuSecondsByPhase");
        double previous = cpu0;
        for (Map.Entry<String, Double> e : cpuAt.entrySet()) {
            cpuPhases.put(e.getKey(), Math.round(10 * (e.getValue() - previous)) / 10.0);
            previous = e.getValue();
        }
        results.put("cpuSeconds", cpu).put("threads", org.bytedeco.pytorch.global.torch.get_num_threads());
        AtomicWrite.writeString(out.resolve("results.json"), AtomicWrite.Access.EVERYONE, JSON.writeValueAsString(results) + "\n");
        return new Result(accuracy, labelled, test.size(), total, cpu, results);
    }

    /**
     * A small teacher of the shipped architecture trained for {@code steps} steps on the embedded images, in
     * {@code out/teacher}; returns its {@code teacher.dtt}.
     */
    public Path trainTeacher(int steps, Path out) throws IOException {
        UNetConfig u = UNetConfig.of(1, FashionMnist.SIZE, 32, List.of(1, 2, 2)).withNumResBlocks(1).withAttention(List.of(7), 4, true)
                .withTaps(List.of(0, 2, 4));
        double ema = steps >= 2000 ? 0.999 : 0.99;
        TeacherTrainer.Settings s = TeacherTrainer.Settings.defaults().withSteps(steps).withBatchSize(32).withLr(1e-3)
                .withWarmupSteps(Math.min(100, Math.max(1, steps / 10))).withEmaDecay(ema).withSeed(seed)
                .withCheckpointEvery(Math.max(50, steps / 4)).withLogEvery(MetricsLog.interval(steps));
        Path dir = out.resolve("teacher");
        clearPreviousRun(dir);
        TeacherTrainer.Result r = new TeacherTrainer(DiffusionConfig.of(u), FashionMnist.embeddedSubset().train(), s).run(dir, false);
        say("[teacher] trained %d steps in %.0f s: loss %.3f -> %.3f (%s)", r.steps(), r.seconds(), r.firstLoss(), r.lastLoss(), r.teacherFile());
        return r.teacherFile();
    }

    /** Removes the run folder a previous demo left (only if it looks like one), so that the demo starts afresh. */
    static void clearPreviousRun(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return;
        if (!Files.isDirectory(dir.resolve("checkpoints")) && !Files.exists(dir.resolve("metrics.jsonl"))) {
            try (Stream<Path> s = Files.list(dir)) {
                if (s.findAny().isPresent()) throw new IllegalArgumentException(dir + " exists and is not a run folder of the demo: choose another --out");
            }
            return;
        }
        List<Path> all;
        try (Stream<Path> s = Files.walk(dir)) {
            all = new ArrayList<>(s.sorted(Comparator.reverseOrder()).toList());
        }
        for (Path p : all) Files.delete(p);
    }

    private void say(String format, Object... args) {
        reporter.line(String.format(Locale.ROOT, format, args));
    }

    /** A fraction as a percentage, "1%" or "0.5%". */
    public static String percent(double fraction) {
        double p = 100 * fraction;
        return (p == Math.rint(p) ? Long.toString(Math.round(p)) : Double.toString(p)) + "%";
    }

    private static double since(long t0) {
        return Math.round((System.nanoTime() - t0) / 1e8) / 10.0;
    }

    /** CPU time of this process so far (all threads, native ones included), or -1 where the JVM cannot tell. */
    private static double cpuSeconds() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long ns = os.getProcessCpuTime();
            return ns < 0 ? -1 : Math.round(ns / 1e8) / 10.0;
        }
        return -1;
    }
}
