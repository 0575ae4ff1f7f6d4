package org.dreamteacher.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.gan.GanConfig;
import org.dreamteacher.gan.GanTrainer;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.MetricsLog;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Trains the GAN teacher on unlabelled images. */
@Command(name = "train-gan", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Train a GAN teacher (a small StyleGAN2-style generator and residual discriminator) on unlabelled images.",
            "Writes generator.dtt (the EMA weights), checkpoints/, metrics.jsonl, loss-curve.png and sample-grid.png into --out."})
final class TrainGanCommand extends CliCommand {
    @Mixin
    DataOptions data;

    @Option(names = "--width", paramLabel = "C", defaultValue = "64",
            description = "Generator width: channels of the 4x4 and 8x8 blocks, halved at each doubling after (at least 8); also the size of z and w"
                    + " (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "10000", description = "Training steps, each one D and one G update (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "32", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", paramLabel = "RATE", defaultValue = "0.002", description = "Learning rate of both Adam optimisers, betas (0, 0.99) (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--r1-gamma", paramLabel = "G", defaultValue = "0.01", description = "Weight of the R1 penalty on real images, 0 for none (default: ${DEFAULT-VALUE}).")
    double r1Gamma;

    @Option(names = "--r1-every", paramLabel = "N", defaultValue = "16", description = "Compute R1 every N steps, weighted by N (default: ${DEFAULT-VALUE}).")
    int r1Every;

    @Option(names = "--ema", paramLabel = "DECAY", defaultValue = "0.999", description = "EMA decay of the saved generator (default: ${DEFAULT-VALUE}).")
    double ema;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--checkpoint-every", paramLabel = "N", defaultValue = "500", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
    int checkpointEvery;

    @Option(names = "--sample-every", paramLabel = "N", defaultValue = "500",
            description = "Steps between redraws of sample-grid.png and loss-curve.png; both are drawn at the end too (default: ${DEFAULT-VALUE}).")
    int sampleEvery;

    @Option(names = "--samples", paramLabel = "N", defaultValue = "16", description = "Images in sample-grid.png, 0 for none (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/gan", description = "Run folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--resume", description = "Continue the run in --out from its last checkpoint (--steps may grow).")
    boolean resume;

    @Override
    int execute() throws Exception {
        requirePositive(steps, "--steps");
        requirePositive(batch, "--batch");
        requirePositive(lr, "--lr");
        requireNonNegative(r1Gamma, "--r1-gamma");
        requirePositive(r1Every, "--r1-every");
        requirePositive(checkpointEvery, "--checkpoint-every");
        requirePositive(sampleEvery, "--sample-every");
        if (width < 1 || width > 1024) throw usage("--width must be in 1..1024, got " + width);
        if (!(ema >= 0 && ema < 1)) throw usage("--ema must be in [0, 1), got " + ema);
        if (samples < 0 || samples > 1024) throw usage("--samples must be in 0..1024, got " + samples);
        if (Files.exists(out) && !Files.isDirectory(out)) throw usage("--out: not a folder: " + out);
        TorchRuntime.init();
        ImageDataset images = data.trainImages();
        if (images.height() != images.width()) throw usage("the images must be square, got " + images.height() + " x " + images.width());
        if (batch > images.size()) throw usage("--batch " + batch + " is larger than the " + images.size() + " training images");
        GanConfig config;
        try {
            config = GanConfig.of(images.channels(), images.height(), width);
        } catch (IllegalArgumentException e) {
            throw usage(DreamTeacherCli.Errors.oneLine(e.getMessage()));
        }
        GanTrainer.Settings settings = GanTrainer.Settings.defaults().withSteps(steps).withBatchSize(batch).withLr(lr).withR1Gamma(r1Gamma)
                .withR1Every(r1Every).withEmaDecay(ema).withSeed(seed).withCheckpointEvery(checkpointEvery).withSampleEvery(sampleEvery)
                .withLogEvery(MetricsLog.interval(steps)).withSamples(samples);
        out().printf(Locale.ROOT, "train-gan: %s, %d images of %dx%dx%d on a %d px canvas; generator widths %s, z and w %d%n", data.describe(),
                images.size(), images.channels(), images.height(), images.width(), config.canvasSize(), config.widths(), config.zDim());
        out().printf(Locale.ROOT, "  %d steps, batch %d, lr %s, R1 gamma %s every %d steps, EMA %s, seed %d -> %s%s%n", steps, batch, num(lr),
                num(r1Gamma), r1Every, num(ema), seed, out, resume ? " (resuming)" : "");
        out().flush();
        GanTrainer.Result r = new GanTrainer(config, images, settings).run(out, resume);
        out().printf(Locale.ROOT, "trained %d steps in %.1f s: last G loss %.4f, D loss %.4f%n", r.steps(), r.seconds(), r.lastLossG(), r.lastLossD());
        out().printf(Locale.ROOT, "generator: %s%n", r.generatorFile());
        if (Files.isRegularFile(out.resolve("loss-curve.png"))) out().printf(Locale.ROOT, "loss curve: %s%n", out.resolve("loss-curve.png"));
        if (samples > 0) out().printf(Locale.ROOT, "samples (EMA generator): %s%n", out.resolve("sample-grid.png"));
        return 0;
    }
}
