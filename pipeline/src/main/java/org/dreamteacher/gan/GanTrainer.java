package org.dreamteacher.gan;

import static org.dreamteacher.nn.Layers.s;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Augmentation;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.torch.ConvolutionGuard;
import org.dreamteacher.train.CosineSchedule;
import org.dreamteacher.train.Ema;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.ResumableRun;
import org.dreamteacher.train.RunCheckpoints;
import org.dreamteacher.train.RunLock;
import org.dreamteacher.train.SameRun;
import org.dreamteacher.train.TrainingLoop;
import org.dreamteacher.viz.Charts;
import org.dreamteacher.viz.Pictures;

/**
 * Trains a GAN teacher on unlabelled images, as StyleGAN2 does at small scale: the non-saturating logistic loss
 * (D minimises softplus(D(G(z))) + softplus(-D(x)), G minimises softplus(-D(G(z)))), one discriminator and one
 * generator step per training step, Adam with betas (0, 0.99), R1 regularisation (gamma/2 · E||∇x D(x)||² on real
 * images) computed lazily, only every {@code r1Every} steps and then weighted by {@code r1Every} so that its
 * average strength is unchanged, and an exponential moving average of the generator's weights, which draws the
 * samples and is saved as the teacher ({@code generator.dtt}). The lazy R1 term is added to that step's
 * discriminator loss (one optimiser step), so the optimiser settings need no correction for extra steps.
 *
 * <p>Randomness is a function of (seed, step): a resumed run ends with the same weights as an uninterrupted one.
 * The run folder holds {@code checkpoints/step-N/} (generator, discriminator, EMA, both optimisers),
 * {@code metrics.jsonl}, {@code loss-curve.png} and {@code sample-grid.png} (both redrawn every
 * {@code sampleEvery} steps and at the end) and, at the end, {@code generator.dtt}.
 */
public final class GanTrainer implements ResumableRun<GanTrainer.Result> {
    private static final System.Logger LOG = System.getLogger(GanTrainer.class.getName());

    /**
     * @param samples images in the sample grid (0: none)
     */
    public record Settings(int steps, int batchSize, double lr, double r1Gamma, int r1Every, double emaDecay, long seed, int checkpointEvery,
            int sampleEvery, int logEvery, boolean flip, int samples) {
        public Settings {
            if (steps <= 0 || batchSize <= 0) throw new IllegalArgumentException("steps and batch size must be > 0");
            if (!(lr > 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("the learning rate must be a finite number > 0");
            if (!(r1Gamma >= 0) || Double.isInfinite(r1Gamma)) throw new IllegalArgumentException("R1 gamma must be a finite number >= 0");
            if (r1Every <= 0) throw new IllegalArgumentException("the R1 interval must be > 0");
            if (!(emaDecay >= 0 && emaDecay < 1)) throw new IllegalArgumentException("EMA decay must be in [0, 1)");
            if (checkpointEvery <= 0 || sampleEvery <= 0 || logEvery <= 0)
                throw new IllegalArgumentException("checkpoint, sample and log intervals must be > 0");
            if (samples < 0) throw new IllegalArgumentException("samples must be >= 0");
        }

        /** StyleGAN2's choices scaled to a small CPU run: lr 0.002, R1 gamma 0.01 every 16 steps, EMA 0.999. */
        public static Settings defaults() {
            return new Settings(10_000, 32, 2e-3, 0.01, 16, 0.999, 0, 500, 500, 20, true, 16);
        }

        public Settings withSteps(int v) {
            return new Settings(v, batchSize, lr, r1Gamma, r1Every, emaDecay, seed, checkpointEvery, sampleEvery, logEvery, flip, samples);
        }

        public Settings withBatchSize(int v) {
            return new Settings(steps, v, lr, r1Gamma, r1Every, emaDecay, seed, checkpointEvery, sampleEvery, logEvery, flip, samples);
        }

        public Settings withLr(double v) {
            return new Settings(steps, batchSize, v, r1Gamma, r1Every, emaDecay, seed, checkpointEvery, sampleEvery, logEvery, flip,
                    samples);
        }

        public Settings withR1Gamma(double v) {
            return new Settings(steps, batchSize, lr, v, r1Every, emaDecay, seed, checkpointEvery, sampleEvery, logEvery, flip, samples);
        }

        public Settings withR1Every(int v) {
            return new Settings(steps, batchSize, lr, r1Gamma, v, emaDecay, seed, checkpointEvery, sampleEvery, logEvery, flip, samples);
        }

        public Settings withEmaDecay(double v) {
            return new Settings(steps, batchSize, lr, r1Gamma, r1Every, v, seed, checkpointEvery, sampleEvery, logEvery, flip, samples);
        }

        public Settings withSeed(long v) {
            return new Settings(steps, batchSize, lr, r1Gamma, r1Every, emaDecay, v, checkpointEvery, sampleEvery, logEvery, flip, samples);
        }

        public Settings withCheckpointEvery(int v) {
            return new Settings(steps, batchSize, lr, r1Gamma, r1Every, emaDecay, seed, v, sampleEvery, logEvery, flip, samples);
        }

        public Settings withSampleEvery(int v) {
            return new Settings(steps, batchSize, lr, r1Gamma, r1Every, emaDecay, seed, checkpointEvery, v, logEvery, flip, samples);
        }

        public Settings withLogEvery(int v) {
            return new Settings(steps, batchSize, lr, r1Gamma, r1Every, emaDecay, seed, checkpointEvery, sampleEvery, v, flip, samples);
        }

        public Settings withFlip(boolean v) {
            return new Settings(steps, batchSize, lr, r1Gamma, r1Every, emaDecay, seed, checkpointEvery, sampleEvery, logEvery, v, samples);
        }

        public Settings withSamples(int v) {
            return new Settings(steps, batchSize, lr, r1Gamma, r1Every, emaDecay, seed, checkpointEvery, sampleEvery, logEvery, flip, v);
        }
    }

    public record Result(Path runDir, Path generatorFile, double lastLossG, double lastLossD, long steps, double seconds) {}

    private final GanConfig config;
    private final ImageDataset data;
    private final Settings s;

    public GanTrainer(GanConfig config, ImageDataset data, Settings settings) {
        if (data.channels() != config.channels())
            throw new IllegalArgumentException("the data has " + data.channels() + " channels, the generator draws " + config.channels());
        if (data.height() != config.imageSize() || data.width() != config.imageSize())
            throw new IllegalArgumentException("the data is " + data.height() + "x" + data.width() + ", the GAN expects "
                    + config.imageSize() + "x" + config.imageSize());
        if (settings.batchSize() > data.size())
            throw new IllegalArgumentException("the batch (" + settings.batchSize() + ") is larger than the " + data.size() + " images");
        this.config = config;
        this.data = data;
        this.s = settings;
    }

    @Override
    public Result run(Path runDir, boolean resume, long stopAfter) throws IOException {
        return RunLock.holding(runDir, true, () -> runUnlocked(runDir, resume, stopAfter));
    }

    private Result runUnlocked(Path runDir, boolean resume, long stopAfter) throws IOException {
        Files.createDirectories(runDir);
        RunCheckpoints checkpoints = new RunCheckpoints(runDir, 2);
        Optional<RunCheckpoints.Snapshot> snapshot = checkpoints.start(resume, () -> state(0));
        GanGenerator g, ema;
        GanDiscriminator d;
        if (snapshot.isPresent()) {
            g = snapshot.get().model("generator", GanGenerator.class);
            d = snapshot.get().model("discriminator", GanDiscriminator.class);
            ema = snapshot.get().model("ema", GanGenerator.class);
        } else {
            torch.manual_seed(s.seed());
            g = config.build();
            d = config.discriminator().build();
            ema = config.build();
            Ema.update(g, ema, 0, true);
        }
        // Closed here whether the run ends or stops with an error (a non-finite step, a full disk).
        try (GanGenerator gen = g; GanDiscriminator disc = d; GanGenerator avg = ema;
                Adam optG = new Adam(g.parameters(), adamOptions()); Adam optD = new Adam(d.parameters(), adamOptions())) {
            return train(runDir, snapshot, checkpoints, stopAfter, gen, disc, avg, optG, optD);
        }
    }

    /**
     * One training step is two updates on the one training loop: the discriminator's (its loss on real and
     * generated images, with lazy R1), then the generator's against the updated discriminator; the EMA follows.
     */
    private Result train(Path runDir, Optional<RunCheckpoints.Snapshot> snapshot, RunCheckpoints checkpoints, long stopAfter, GanGenerator g,
            GanDiscriminator d, GanGenerator ema, Adam optG, Adam optD) throws IOException {
        long start = snapshot.map(RunCheckpoints.Snapshot::step).orElse(0L);
        ema.eval();
        TensorVector gParams = g.parameters(), dParams = d.parameters();
        Batches batches = Batches.of(data).batchSize(s.batchSize()).seed(s.seed()).dropLast(true)
                .augmentation(s.flip() ? Augmentation.flip() : Augmentation.NONE).build();
        int canvas = config.canvasSize();
        g.train(true);
        d.train(true);
        // What the two updates of a step measured, for the metrics and the progress bar.
        double[] last = new double[5]; // loss_d (without R1), r1 (NaN when not computed), d_real, d_fake, loss_g
        TrainingLoop.StepFunction discriminatorStep = step -> {
            int epoch = (int) (step / batches.stepsPerEpoch());
            Tensor real = GanGenerator.padToCanvas(batches.batch(epoch, (int) (step % batches.stepsPerEpoch())).images(), canvas);
            long n = real.size(0);
            boolean doR1 = s.r1Gamma() > 0 && step % s.r1Every() == 0;
            Tensor fake;
            try (NoGradGuard ng = new NoGradGuard()) {
                fake = g.forward(g.latents(n));
            }
            Tensor realIn = doR1 ? real.detach().set_requires_grad(true) : real;
            Tensor realLogits = d.forward(realIn);
            Tensor fakeLogits = d.forward(fake);
            Tensor dLoss = softplus(fakeLogits).mean().add(softplus(realLogits.neg()).mean());
            Tensor dTotal = dLoss;
            last[1] = Double.NaN;
            if (doR1) {
                Tensor penalty = r1Penalty(realLogits, realIn);
                last[1] = penalty.item_double();
                dTotal = dLoss.add(penalty.mul(s(s.r1Gamma() / 2 * s.r1Every())));
                // The loop's backward of this loss differentiates the convolutions twice; the generator's update ends it.
                ConvolutionGuard.secondDerivatives(true);
            }
            last[0] = dLoss.item_double();
            last[2] = realLogits.mean().item_double();
            last[3] = fakeLogits.mean().item_double();
            return dTotal;
        };
        TrainingLoop.StepFunction generatorStep = new TrainingLoop.StepFunction() {
            @Override
            public Tensor loss(long step) {
                ConvolutionGuard.secondDerivatives(false);
                // The discriminator's weights need no gradient here; afterStep gives it back.
                requireGrad(dParams, false);
                Tensor gLoss = softplus(d.forward(g.forward(g.latents(s.batchSize()))).neg()).mean();
                last[4] = gLoss.item_double();
                return gLoss;
            }

            @Override
            public void afterStep(long step) {
                requireGrad(dParams, true);
                Ema.update(g, ema, s.emaDecay(), true);
            }
        };
        Window window = new Window();
        long t0 = System.nanoTime();
        TrainingLoop.Outcome outcome;
        try {
            outcome = TrainingLoop.builder(new CosineSchedule(s.lr(), 0, s.steps(), 1.0), s.steps(), List.of(
                    new TrainingLoop.Update("discriminator loss", optD, dParams, discriminatorStep),
                    new TrainingLoop.Update("generator loss", optG, gParams, generatorStep)))
                    .seeds(step -> SeededRandom.mix(s.seed(), SeedStreams.GAN_STEP, step))
                    .stopAfter(stopAfter)
                    .progress("train-gan", e -> String.format("G %.3f D %.3f", last[4], last[0]))
                    .metrics(MetricsLog.open(runDir.resolve("metrics.jsonl"), start), s.logEvery(), (record, w) -> window.drain(record))
                    .checkpoints(checkpoints, snapshot, s.checkpointEvery(), Map.of("generator", g, "discriminator", d, "ema", ema),
                            Map.of("adam-g", optG, "adam-d", optD), this::state)
                    .listener(new TrainingLoop.TrainingListener() {
                        @Override
                        public void onStepEnd(TrainingLoop.StepEnd end) {
                            window.add(last[4], last[0], last[1], last[2], last[3]);
                        }

                        @Override
                        public void onStepRecorded(TrainingLoop.StepEnd end) throws IOException {
                            if (end.done() % s.sampleEvery() == 0 || end.done() == s.steps()) pictures(runDir, runDir.resolve("metrics.jsonl"), ema);
                        }
                    })
                    .build().run();
        } finally {
            ConvolutionGuard.secondDerivatives(false); // also when a step was refused
        }
        Path generatorFile = null;
        if (outcome.end() == s.steps()) {
            generatorFile = runDir.resolve("generator.dtt");
            Checkpoints.save(generatorFile, ema);
        }
        return new Result(runDir, generatorFile, last[4], last[0], outcome.steps(), (System.nanoTime() - t0) / 1e9);
    }

    private AdamOptions adamOptions() {
        return adamOptions(s.lr(), 0.0, 0.99);
    }

    /** Adam's options with the given betas (eps 1e-8). */
    static AdamOptions adamOptions(double lr, double beta1, double beta2) {
        AdamOptions o = new AdamOptions(lr);
        // betas() points at a std::tuple<double, double>, which libstdc++ lays out last element first: index 0 is
        // beta2 and index 1 is beta1 (the defaults read back as 0.999, 0.9). Swapped, beta2 would be 0: each step
        // divided by the last gradient alone, and weights moving by up to hundreds of times the learning rate.
        o.betas().put(0, beta2).put(1, beta1);
        o.eps().put(1e-8);
        return o;
    }

    /** E||∇x D(x)||² over the batch, differentiable (the graph is kept for the discriminator's backward). */
    static Tensor r1Penalty(Tensor realLogits, Tensor realIn) {
        TensorVector grads = torch.grad(new TensorVector(realLogits.sum()), new TensorVector(realIn), new TensorVector(), new BoolOptional(true),
                true, false);
        return grads.get(0).square().sum(new long[] {1, 2, 3}, false, new org.bytedeco.pytorch.ScalarTypeOptional()).mean();
    }

    static Tensor softplus(Tensor x) {
        return torch.softplus(x, s(1), s(20));
    }

    private static void requireGrad(TensorVector params, boolean on) {
        for (long i = 0; i < params.size(); i++) params.get(i).set_requires_grad(on);
    }

    /** The sample grid from fixed latents (the same at every redraw) and the loss curve of the log so far. */
    private void pictures(Path runDir, Path metrics, GanGenerator ema) throws IOException {
        if (s.samples() > 0) {
            try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                torch.manual_seed(SeededRandom.mix(s.seed(), SeedStreams.GAN_GRID));
                Tensor images = ema.sample(ema.latents(s.samples()));
                Pictures.saveGrid(runDir.resolve("sample-grid.png"), images, (int) Math.ceil(Math.sqrt(s.samples())), 2);
            }
        }
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("loss_g", "generator");
        labels.put("loss_d", "discriminator");
        Charts.lossCurve(metrics, runDir.resolve("loss-curve.png"), "GAN training losses", labels);
        LOG.log(System.Logger.Level.DEBUG, "pictures of " + runDir + " redrawn");
    }

    private JsonNode state(long step) {
        return SameRun.describe(step, s, config, data.toString() + ", sha256 " + data.fingerprint());
    }

    /** Averages of the logged values since the last record; R1 over the steps that computed it. */
    private static final class Window {
        double g, d, r1, real, fake;
        int count, r1Count;

        void add(double lossG, double lossD, double penalty, double realScore, double fakeScore) {
            g += lossG;
            d += lossD;
            real += realScore;
            fake += fakeScore;
            count++;
            if (!Double.isNaN(penalty)) {
                r1 += penalty;
                r1Count++;
            }
        }

        ObjectNode drain(ObjectNode record) {
            record.put("loss_g", g / count).put("loss_d", d / count).put("d_real", real / count).put("d_fake", fake / count);
            if (r1Count > 0) record.put("r1", r1 / r1Count);
            g = d = r1 = real = fake = 0;
            count = r1Count = 0;
            return record;
        }
    }
}
