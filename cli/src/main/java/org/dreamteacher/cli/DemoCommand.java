package org.dreamteacher.cli;

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
import java.util.stream.Stream;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.ShippedTeacher;
import org.dreamteacher.diffusion.TeacherTrainer;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.distill.Distiller;
import org.dreamteacher.eval.BackboneSource;
import org.dreamteacher.eval.Classifier;
import org.dreamteacher.eval.Mode;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureRegressor;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.viz.Charts;
import org.dreamteacher.viz.FeaturePictures;
import org.dreamteacher.viz.Plots;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * DreamTeacher end to end in a few minutes on embedded data: the shipped diffusion teacher is distilled into a
 * small ResNet-18 without labels, which is then linearly probed and fine-tuned with 1% of the Fashion-MNIST
 * labels (60 images) next to the same network from random initialisation.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Run DreamTeacher end to end in a few minutes on embedded data.",
            "On the embedded Fashion-MNIST subset and the shipped teacher: distill the teacher into a ResNet-18 without",
            "labels, then probe and fine-tune it with 1% of the labels (60 images) next to the same network from random",
            "initialisation, and compare their test accuracy.",
            "Writes pictures (teacher samples, PCA of features, loss curve, accuracy chart) and results.json into --out."})
final class DemoCommand extends CliCommand {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Option(names = "--teacher", paramLabel = "FILE", description = "Use this teacher checkpoint instead of the shipped one.")
    Path teacher;

    @Option(names = "--train-teacher-steps", paramLabel = "N", defaultValue = "0",
            description = "When there is no shipped teacher (and no --teacher), train one first for N steps (batch 32; 300 steps take about 10 minutes on 2 cores).")
    int trainTeacherSteps;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "demo-output", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "A smoke run of every stage (a few steps each, 100 test images), for CI.")
    boolean quick;

    @Option(names = "--distill-steps", paramLabel = "N", description = "Distillation steps (default: 150; 3 with --quick).")
    Integer distillSteps;

    @Option(names = "--probe-steps", paramLabel = "N", description = "Cap on the linear probe's solver iterations, on cached features (default: 1000; 3 with --quick).")
    Integer probeSteps;

    @Option(names = "--finetune-steps", paramLabel = "N", description = "Fine-tuning steps, batch 30 (default: 100; 3 with --quick).")
    Integer finetuneSteps;

    @Option(names = "--test-images", paramLabel = "N", description = "Test images scored (default: all 1000 of the subset; 100 with --quick).")
    Integer testImages;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    /** The demo's sizes; --quick shrinks them all. */
    record Plan(int samples, int sampleSteps, int distillSteps, int distillBatch, int regressorChannels, int width, int timestep,
            double labelFraction, int probeSteps, int finetuneSteps, int finetuneBatch, int testImages) {}

    Plan plan() {
        Plan p = quick ? new Plan(4, 2, 3, 8, 16, 16, 50, 0.01, 3, 3, 30, 100)
                : new Plan(16, 20, 150, 32, 32, 16, 50, 0.01, 1000, 100, 30, 1000);
        return new Plan(p.samples, p.sampleSteps, distillSteps != null ? distillSteps : p.distillSteps, p.distillBatch, p.regressorChannels,
                p.width, p.timestep, p.labelFraction, probeSteps != null ? probeSteps : p.probeSteps,
                finetuneSteps != null ? finetuneSteps : p.finetuneSteps, p.finetuneBatch, testImages != null ? testImages : p.testImages);
    }

    @Override
    int execute() throws Exception {
        if (distillSteps != null) requirePositive(distillSteps, "--distill-steps");
        if (probeSteps != null) requirePositive(probeSteps, "--probe-steps");
        if (finetuneSteps != null) requirePositive(finetuneSteps, "--finetune-steps");
        if (testImages != null) requirePositive(testImages, "--test-images");
        if (trainTeacherSteps < 0) throw usage("--train-teacher-steps must be >= 0, got " + trainTeacherSteps);
        if (teacher != null) requireFile(teacher, "--teacher");
        Plan p = plan();
        long t0 = System.nanoTime();
        double cpu0 = cpuSeconds();
        TorchRuntime.init();
        TensorLossKernels kernels = kernels();
        Files.createDirectories(out);
        out().println("DreamTeacher demo" + (quick ? " (--quick)" : "") + ": distill a diffusion teacher into a ResNet-18 without labels, then "
                + "classify Fashion-MNIST with " + percent(p.labelFraction()) + " of the labels");
        FashionMnist data = FashionMnist.embeddedSubset();
        ImageDataset train = data.train();
        ImageDataset test = Classifier.testSubset(data.test(), p.testImages());
        ObjectNode results = JSON.createObjectNode();
        Map<String, Double> seconds = new LinkedHashMap<>();
        Map<String, Double> cpuAt = new LinkedHashMap<>();

        // 1. The teacher.
        long t = System.nanoTime();
        String teacherSource;
        GaussianDiffusion model;
        if (teacher != null) {
            model = Teachers.load(teacher);
            teacherSource = teacher.toString();
        } else if (ShippedTeacher.isPresent()) {
            model = ShippedTeacher.load();
            teacherSource = "the shipped Fashion-MNIST teacher";
        } else if (trainTeacherSteps > 0) {
            out().printf(Locale.ROOT, "[teacher] no shipped teacher in this build: training one for %d steps first%n", trainTeacherSteps);
            out().flush();
            Path file = trainTeacher(train, trainTeacherSteps);
            model = Teachers.load(file);
            teacherSource = file + " (trained " + trainTeacherSteps + " steps)";
        } else {
            throw new CliException("the shipped teacher (" + ShippedTeacher.RESOURCE + ") is not in this build: pass --teacher FILE, or "
                    + "--train-teacher-steps N to train a small one first");
        }
        try (model) {
            UNetConfig u = model.config().unet();
            if (u.inChannels() != 1 || u.imageSize() != FashionMnist.SIZE)
                throw new CliException("the demo needs a teacher of 1 x 28 x 28 images (Fashion-MNIST), this one is for " + u.inChannels() + " x "
                        + u.imageSize() + " x " + u.imageSize());
            out().printf(Locale.ROOT, "[teacher] %s: U-Net base %d, mult %s, taps %s; %s schedule, T = %d%n", teacherSource, u.baseChannels(),
                    u.channelMult(), u.taps(), model.config().schedule(), model.timesteps());
            Path samples = out.resolve("teacher-samples.png");
            out().flush();
            Teachers.drawSamples(model, p.samples(), "ddim", p.sampleSteps(), 0.0, seed, samples);
            out().printf(Locale.ROOT, "[teacher] %d samples (DDIM, %d steps): %s%n", p.samples(), p.sampleSteps(), samples);
            seconds.put("teacher", since(t));
            cpuAt.put("teacher", cpuSeconds());
            results.put("teacher", teacherSource);

            // 2. Distillation, without labels.
            t = System.nanoTime();
            ResNetConfig backboneConfig = ResNetConfig.small(18, p.width(), 1, 0);
            Distiller.Settings d = Distiller.Settings.defaults();
            Distiller.Settings ds = new Distiller.Settings(p.distillSteps(), p.distillBatch(), d.lr(), d.weightDecay(),
                    Math.min(d.warmupSteps(), Math.max(1, p.distillSteps() / 10)), d.clipNorm(), p.timestep(), d.lambdaAt(), WhitenMode.PER_SAMPLE,
                    AttentionDistance.NORM, seed, p.distillSteps(), Math.max(1, Math.min(5, p.distillSteps() / 10)), true, p.regressorChannels());
            Distiller distiller = new Distiller(model.unet(), model.schedule(), teacherSource, backboneConfig, train, kernels, ds);
            Path runDir = out.resolve("distill");
            clearPreviousRun(runDir);
            out().printf(Locale.ROOT, "[distill] %s <- teacher features at t = %d: %d steps, batch %d, %d unlabelled images, regressor %d channels%n",
                    BackboneChoice.describe(backboneConfig), p.timestep(), p.distillSteps(), p.distillBatch(), train.size(), p.regressorChannels());
            out().flush();
            Distiller.Result r = distiller.run(runDir, false);
            out().printf(Locale.ROOT, "[distill] %s%n", r.pairing().describe());
            out().printf(Locale.ROOT, "[distill] loss %.3f -> %.3f in %.0f s%n", r.firstLoss(), r.lastLoss(), r.seconds());
            Path lossCurve = out.resolve("distill-loss.png");
            Charts.lossCurve(runDir.resolve("metrics.jsonl"), lossCurve, "distillation loss", List.of("loss", "whitened_mse", "attention"));
            Path pca = out.resolve("pca-features.png");
            try (ConfiguredModule b = Checkpoints.load(r.backboneFile());
                    FeatureRegressor reg = Checkpoints.load(runDir.resolve("regressor.dtt"), FeatureRegressor.class)) {
                FeaturePictures.write(pca, model.unet(), model.schedule(), p.timestep(), b, reg, r.pairing().teacherNames(), r.pairing().backboneLevels(), test, 4, seed);
            }
            out().printf(Locale.ROOT, "[distill] loss curve %s, features (PCA, teacher vs student) %s%n", lossCurve, pca);
            seconds.put("distill", since(t));
            cpuAt.put("distill", cpuSeconds());
            results.put("distillSteps", p.distillSteps()).put("distillLossFirst", r.firstLoss()).put("distillLossLast", r.lastLoss());

            // 3. Few labels: the distilled backbone against the same network from random initialisation.
            t = System.nanoTime();
            List<BackboneSource> inits = List.of(BackboneSource.pretrained(r.backboneFile()).named("DreamTeacher"),
                    BackboneSource.randomInit(backboneConfig).named("random init"));
            Classifier.Settings probe = Classifier.Settings.defaults(Mode.LINEAR_PROBE).withLabelFraction(p.labelFraction())
                    .withSteps(p.probeSteps()).withSeed(seed);
            Classifier.Settings finetune = Classifier.Settings.defaults(Mode.FINE_TUNE).withLabelFraction(p.labelFraction())
                    .withSteps(p.finetuneSteps()).withBatchSize(p.finetuneBatch()).withSeed(seed);
            Map<String, double[]> accuracy = new LinkedHashMap<>();
            int labelled = 0;
            for (BackboneSource init : inits) {
                double[] acc = new double[2];
                int k = 0;
                for (Classifier.Settings s : List.of(probe, finetune)) {
                    out().printf(Locale.ROOT, "[evaluate] %s: %s with %s of the labels, %s%n", init.name(),
                            s.mode() == Mode.LINEAR_PROBE ? "linear probe" : "fine-tuning", percent(p.labelFraction()),
                            s.mode() == Mode.LINEAR_PROBE ? "solved to convergence (at most " + s.steps() + " iterations)" : s.steps() + " steps");
                    out().flush();
                    Classifier.Result res = Classifier.run(init, train, test, s);
                    acc[k++] = res.accuracy();
                    labelled = res.trainSamples();
                }
                accuracy.put(init.name(), acc);
            }
            seconds.put("evaluate", since(t));
            cpuAt.put("evaluate", cpuSeconds());
            Path chart = out.resolve("accuracy.png");
            Map<String, double[][]> bars = new LinkedHashMap<>();
            for (Map.Entry<String, double[]> e : accuracy.entrySet())
                bars.put(e.getKey(), new double[][] {{100 * e.getValue()[0]}, {100 * e.getValue()[1]}});
            Plots.barChart(chart, "Fashion-MNIST, " + labelled + " labelled images (" + percent(p.labelFraction()) + "), " + test.size() + " test images",
                    "", "test accuracy (%)", List.of("linear probe", "fine-tuning"), bars);

            double total = since(t0);
            seconds.put("total", total);
            double cpu = cpu0 < 0 ? -1 : Math.round(10 * (cpuSeconds() - cpu0)) / 10.0;
            ObjectNode acc = results.putObject("accuracy");
            for (Map.Entry<String, double[]> e : accuracy.entrySet())
                acc.putObject(e.getKey()).put("linearProbe", e.getValue()[0]).put("fineTune", e.getValue()[1]);
            results.put("labelledImages", labelled).put("testImages", test.size()).put("quick", quick).put("seed", seed);
            results.set("seconds", JSON.valueToTree(seconds));
            ObjectNode cpuPhases = results.putObject("cpuSecondsByPhase");
            double previous = cpu0;
            for (Map.Entry<String, Double> e : cpuAt.entrySet()) {
                cpuPhases.put(e.getKey(), Math.round(10 * (e.getValue() - previous)) / 10.0);
                previous = e.getValue();
            }
            results.put("cpuSeconds", cpu).put("threads", org.bytedeco.pytorch.global.torch.get_num_threads());
            Files.writeString(out.resolve("results.json"), JSON.writeValueAsString(results) + "\n");

            out().println();
            out().printf(Locale.ROOT, "Test accuracy with %d labelled images (%s of the labels), %d test images:%n", labelled, percent(p.labelFraction()),
                    test.size());
            out().printf(Locale.ROOT, "  %-14s %12s %12s%n", "", "linear probe", "fine-tuning");
            for (Map.Entry<String, double[]> e : accuracy.entrySet())
                out().printf(Locale.ROOT, "  %-14s %11.1f%% %11.1f%%%n", e.getKey(), 100 * e.getValue()[0], 100 * e.getValue()[1]);
            out().printf(Locale.ROOT, "Done in %.0f s%s. Pictures and results: %s%n", total,
                    cpu < 0 ? "" : String.format(Locale.ROOT, " (%.0f CPU-seconds)", cpu), out.toAbsolutePath().normalize());
            out().printf(Locale.ROOT, "  teacher-samples.png, pca-features.png, distill-loss.png, accuracy.png, results.json, distill/backbone.dtt%n");
        }
        return 0;
    }

    /** A small teacher of the shipped architecture, trained on the embedded images. */
    private Path trainTeacher(ImageDataset train, int steps) throws IOException {
        UNetConfig u = UNetConfig.of(1, FashionMnist.SIZE, 32, List.of(1, 2, 2)).withNumResBlocks(1).withAttention(List.of(7), 4, true)
                .withTaps(List.of(0, 2, 4));
        double ema = steps >= 2000 ? 0.999 : 0.99;
        TeacherTrainer.Settings s = new TeacherTrainer.Settings(steps, 32, 1e-3, 0.0, Math.min(100, Math.max(1, steps / 10)), 1.0, ema, seed,
                Math.max(50, steps / 4), MetricsLog.interval(steps), true);
        Path dir = out.resolve("teacher");
        clearPreviousRun(dir);
        TeacherTrainer.Result r = new TeacherTrainer(DiffusionConfig.of(u), train, s).run(dir, false);
        out().printf(Locale.ROOT, "[teacher] trained %d steps in %.0f s: loss %.3f -> %.3f (%s)%n", r.steps(), r.seconds(), r.firstLoss(), r.lastLoss(),
                r.teacherFile());
        return r.teacherFile();
    }

    /** Removes the run folder a previous demo left (only if it looks like one), so that the demo starts afresh. */
    static void clearPreviousRun(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return;
        if (!Files.isDirectory(dir.resolve("checkpoints")) && !Files.exists(dir.resolve("metrics.jsonl"))) {
            try (Stream<Path> s = Files.list(dir)) {
                if (s.findAny().isPresent())
                    throw new CliException(dir + " exists and is not a run folder of the demo: choose another --out");
            }
            return;
        }
        List<Path> all;
        try (Stream<Path> s = Files.walk(dir)) {
            all = new ArrayList<>(s.sorted(Comparator.reverseOrder()).toList());
        }
        for (Path p : all) Files.delete(p);
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

    private static String percent(double fraction) {
        return num(100 * fraction) + "%";
    }
}
