package org.dreamteacher.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.TeacherTrainer;
import org.dreamteacher.diffusion.Teachers;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.viz.Charts;
import org.dreamteacher.viz.SampleGrids;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Trains the diffusion teacher on unlabelled images. */
@Command(name = "train-teacher", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Train a diffusion teacher (DDPM, ADM-style U-Net) on unlabelled images.",
            "Writes teacher.dtt (the EMA weights), checkpoints/, metrics.jsonl, loss-curve.png and sample-grid.png into --out."})
final class TrainTeacherCommand extends CliCommand {
    @Mixin
    DataOptions data;

    @Mixin
    UNetOptions unet;

    @Mixin
    ParallelOptions parallel;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "20000", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", paramLabel = "RATE", defaultValue = "2e-4", description = "Peak learning rate of AdamW (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "200", description = "Warm-up steps (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--ema", paramLabel = "DECAY", defaultValue = "0.999", description = "EMA decay of the saved teacher (default: ${DEFAULT-VALUE}).")
    double ema;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--checkpoint-every", paramLabel = "N", defaultValue = "500", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
    int checkpointEvery;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/teacher", description = "Run folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--resume", description = "Continue the run in --out from its last checkpoint (--steps may grow).")
    boolean resume;

    @Option(names = "--samples", paramLabel = "N", defaultValue = "16", description = "DDIM samples drawn into sample-grid.png at the end, 0 for none (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--sample-steps", paramLabel = "N", defaultValue = "50", description = "DDIM steps of those samples (default: ${DEFAULT-VALUE}).")
    int sampleSteps;

    @Override
    int execute() throws Exception {
        requirePositive(steps, "--steps");
        requirePositive(batch, "--batch");
        requirePositive(lr, "--lr");
        requirePositive(checkpointEvery, "--checkpoint-every");
        requireNonNegative(warmup, "--warmup");
        if (!(ema >= 0 && ema < 1)) throw usage("--ema must be in [0, 1), got " + ema);
        if (samples < 0) throw usage("--samples must be >= 0, got " + samples);
        requirePositive(sampleSteps, "--sample-steps");
        parallel.requireDivisible(this, batch);
        if (parallel.launchesWorkers()) return parallel.launchWorkers(this);
        TorchRuntime.init();
        ImageDataset images = data.trainImages();
        if (images.height() != images.width()) throw usage("the images must be square, got " + images.height() + " x " + images.width());
        DiffusionConfig config;
        try {
            config = unet.config(images.channels(), images.height());
        } catch (IllegalArgumentException e) {
            throw usage(DreamTeacherCli.Errors.oneLine(e.getMessage()));
        }
        if (sampleSteps > config.timesteps()) throw usage("--sample-steps must be <= --timesteps (" + config.timesteps() + ")");
        if (batch > images.size()) throw usage("--batch " + batch + " is larger than the " + images.size() + " training images");
        TeacherTrainer.Settings settings = TeacherTrainer.Settings.defaults().withSteps(steps).withBatchSize(batch).withLr(lr)
                .withWarmupSteps(warmup).withEmaDecay(ema).withSeed(seed).withCheckpointEvery(checkpointEvery)
                .withLogEvery(MetricsLog.interval(steps));
        var u = config.unet();
        out().printf(Locale.ROOT, "train-teacher: %s, %d images; U-Net %dx%dx%d, base %d, mult %s, %d res block(s), attention %s, taps %s; "
                + "%s schedule, T = %d%n", data.describe(), images.size(), u.inChannels(), u.imageSize(), u.imageSize(), u.baseChannels(),
                u.channelMult(), u.numResBlocks(), u.attentionResolutions(), u.taps(), config.schedule(), config.timesteps());
        out().printf(Locale.ROOT, "  %d steps, batch %d, lr %s, EMA %s, seed %d -> %s%s%n", steps, batch, num(lr), num(ema), seed, out,
                resume ? " (resuming)" : "");
        out().flush();
        org.dreamteacher.parallel.DataParallel dp = parallel.join(this);
        TeacherTrainer.Result r = new TeacherTrainer(config, images, settings).parallel(dp).run(out, resume);
        parallel.report(this);
        if (!dp.writesFiles()) return 0;
        out().printf(Locale.ROOT, "trained %d steps in %.1f s: loss %.4f -> %.4f%n", r.steps(), r.seconds(), r.firstLoss(), r.lastLoss());
        out().printf(Locale.ROOT, "teacher: %s%n", r.teacherFile());
        if (Charts.lossCurve(out.resolve("metrics.jsonl"), out.resolve("loss-curve.png"), "teacher training loss", List.of("loss")))
            out().printf(Locale.ROOT, "loss curve: %s%n", out.resolve("loss-curve.png"));
        if (samples > 0 && r.teacherFile() != null) {
            Path grid = out.resolve("sample-grid.png");
            try (GaussianDiffusion teacher = Teachers.load(r.teacherFile())) {
                SampleGrids.diffusion(teacher, samples, "ddim", sampleSteps, 0.0, seed, grid);
            }
            out().printf(Locale.ROOT, "samples (DDIM, %d steps): %s%n", sampleSteps, grid);
        }
        return 0;
    }
}
