package org.dreamteacher.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.dreamteacher.demo.Demo;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.ShippedTeacher;
import org.dreamteacher.diffusion.Teachers;
import org.dreamteacher.torch.TorchRuntime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code dreamteacher demo}: picks the teacher (the shipped one, {@code --teacher}, or one trained first) and runs
 * {@link Demo}, printing its stages and the accuracy table.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Run DreamTeacher end to end in a few minutes on embedded data.",
            "On the embedded Fashion-MNIST subset and the shipped teacher: distill the teacher into a ResNet-18 without",
            "labels, then probe and fine-tune it with 1% of the labels (60 images) next to the same network from random",
            "initialisation, and compare their test accuracy.",
            "Writes pictures (teacher samples, PCA of features, loss curve, accuracy chart) and results.json into --out."})
final class DemoCommand extends CliCommand {
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

    /** The demo's sizes: --quick shrinks them all, the step and image options replace single sizes. */
    Demo.Plan plan() {
        Demo.Plan p = quick ? Demo.Plan.quick() : Demo.Plan.full();
        if (distillSteps != null) p = p.withDistillSteps(distillSteps);
        if (probeSteps != null) p = p.withProbeSteps(probeSteps);
        if (finetuneSteps != null) p = p.withFinetuneSteps(finetuneSteps);
        if (testImages != null) p = p.withTestImages(testImages);
        return p;
    }

    @Override
    int execute() throws Exception {
        if (distillSteps != null) requirePositive(distillSteps, "--distill-steps");
        if (probeSteps != null) requirePositive(probeSteps, "--probe-steps");
        if (finetuneSteps != null) requirePositive(finetuneSteps, "--finetune-steps");
        if (testImages != null) requirePositive(testImages, "--test-images");
        if (trainTeacherSteps < 0) throw usage("--train-teacher-steps must be >= 0, got " + trainTeacherSteps);
        if (teacher != null) requireFile(teacher, "--teacher");
        Demo.Plan p = plan();
        TorchRuntime.init();
        Demo demo = new Demo(p, seed, kernels(), line -> {
            out().println(line);
            out().flush();
        });
        out().println("DreamTeacher demo" + (quick ? " (--quick)" : "") + ": distill a diffusion teacher into a ResNet-18 without labels, then "
                + "classify Fashion-MNIST with " + Demo.percent(p.labelFraction()) + " of the labels");
        out().flush();
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
            Path file = demo.trainTeacher(trainTeacherSteps, out);
            model = Teachers.load(file);
            teacherSource = file + " (trained " + trainTeacherSteps + " steps)";
        } else {
            throw new CliException("the shipped teacher (" + ShippedTeacher.RESOURCE + ") is not in this build: pass --teacher FILE, or "
                    + "--train-teacher-steps N to train a small one first");
        }
        Demo.Result r;
        try (model) {
            r = demo.run(model, teacherSource, out);
        }
        out().println();
        out().printf(Locale.ROOT, "Test accuracy with %d labelled images (%s of the labels), %d test images:%n", r.labelledImages(),
                Demo.percent(p.labelFraction()), r.testImages());
        out().printf(Locale.ROOT, "  %-14s %12s %12s%n", "", "linear probe", "fine-tuning");
        for (Map.Entry<String, double[]> e : r.accuracy().entrySet())
            out().printf(Locale.ROOT, "  %-14s %11.1f%% %11.1f%%%n", e.getKey(), 100 * e.getValue()[0], 100 * e.getValue()[1]);
        out().printf(Locale.ROOT, "Done in %.0f s%s. Pictures and results: %s%n", r.seconds(),
                r.cpuSeconds() < 0 ? "" : String.format(Locale.ROOT, " (%.0f CPU-seconds)", r.cpuSeconds()), out.toAbsolutePath().normalize());
        out().printf(Locale.ROOT, "  teacher-samples.png, pca-features.png, distill-loss.png, accuracy.png, results.json, distill/backbone.dtt%n");
        return 0;
    }
}
