package org.dreamteacher.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Augmentation;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.parallel.DataParallel;
import org.dreamteacher.train.CosineSchedule;
import org.dreamteacher.train.Ema;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.ResumableRun;
import org.dreamteacher.train.RunCheckpoints;
import org.dreamteacher.train.RunLock;
import org.dreamteacher.train.SameRun;
import org.dreamteacher.train.TrainingLoop;

/**
 * Trains the diffusion teacher (a DDPM with an ADM-style U-Net) on unlabelled images: epsilon-prediction loss
 * at uniform timesteps, AdamW, cosine schedule with warm-up, gradient clipping, and an exponential moving
 * average of the weights (the EMA model is the teacher that is saved, as in DDPM/ADM). Randomness is a
 * function of (seed, step), so a resumed run ends with the same weights as an uninterrupted one.
 */
public final class TeacherTrainer implements ResumableRun<TeacherTrainer.Result> {

    public record Settings(int steps, int batchSize, double lr, double weightDecay, int warmupSteps, double clipNorm, double emaDecay,
            long seed, int checkpointEvery, int logEvery, boolean flip) {
        public Settings {
            if (steps <= 0 || batchSize <= 0) throw new IllegalArgumentException("steps and batch size must be > 0");
            if (!(emaDecay >= 0 && emaDecay < 1)) throw new IllegalArgumentException("EMA decay must be in [0, 1)");
            if (checkpointEvery <= 0 || logEvery <= 0) throw new IllegalArgumentException("checkpoint and log intervals must be > 0");
        }

        public static Settings defaults() {
            return new Settings(20_000, 64, 2e-4, 0.0, 200, 1.0, 0.999, 0, 500, 20, true);
        }

        public Settings withSteps(int v) {
            return new Settings(v, batchSize, lr, weightDecay, warmupSteps, clipNorm, emaDecay, seed, checkpointEvery, logEvery, flip);
        }

        public Settings withBatchSize(int v) {
            return new Settings(steps, v, lr, weightDecay, warmupSteps, clipNorm, emaDecay, seed, checkpointEvery, logEvery, flip);
        }

        public Settings withLr(double v) {
            return new Settings(steps, batchSize, v, weightDecay, warmupSteps, clipNorm, emaDecay, seed, checkpointEvery, logEvery, flip);
        }

        public Settings withWeightDecay(double v) {
            return new Settings(steps, batchSize, lr, v, warmupSteps, clipNorm, emaDecay, seed, checkpointEvery, logEvery, flip);
        }

        public Settings withWarmupSteps(int v) {
            return new Settings(steps, batchSize, lr, weightDecay, v, clipNorm, emaDecay, seed, checkpointEvery, logEvery, flip);
        }

        public Settings withClipNorm(double v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, v, emaDecay, seed, checkpointEvery, logEvery, flip);
        }

        public Settings withEmaDecay(double v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, v, seed, checkpointEvery, logEvery, flip);
        }

        public Settings withSeed(long v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, emaDecay, v, checkpointEvery, logEvery, flip);
        }

        public Settings withCheckpointEvery(int v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, emaDecay, seed, v, logEvery, flip);
        }

        public Settings withLogEvery(int v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, emaDecay, seed, checkpointEvery, v, flip);
        }

        public Settings withFlip(boolean v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, emaDecay, seed, checkpointEvery, logEvery, v);
        }
    }

    public record Result(Path runDir, Path teacherFile, double firstLoss, double lastLoss, long steps, double seconds) {}

    private final DiffusionConfig config;
    private final ImageDataset data;
    private final Settings s;
    private DataParallel parallel = DataParallel.SINGLE;

    public TeacherTrainer(DiffusionConfig config, ImageDataset data, Settings settings) {
        if (data.channels() != config.unet().inChannels())
            throw new IllegalArgumentException("the data has " + data.channels() + " channels, the U-Net expects " + config.unet().inChannels());
        if (data.height() != config.unet().imageSize() || data.width() != config.unet().imageSize())
            throw new IllegalArgumentException("the data is " + data.height() + "x" + data.width() + ", the U-Net expects "
                    + config.unet().imageSize() + "x" + config.unet().imageSize());
        this.config = config;
        this.data = data;
        this.s = settings;
    }

    /** Trains data-parallel: this process is one rank of {@code parallel} (default: {@link DataParallel#SINGLE}). */
    public TeacherTrainer parallel(DataParallel parallel) {
        this.parallel = parallel;
        return this;
    }

    @Override
    public Result run(Path runDir, boolean resume, long stopAfter) throws IOException {
        // One run per folder: a second one fails here, naming the first's process (only rank 0 writes files).
        return RunLock.holding(runDir, parallel.writesFiles(), () -> runUnlocked(runDir, resume, stopAfter));
    }

    private Result runUnlocked(Path runDir, boolean resume, long stopAfter) throws IOException {
        Files.createDirectories(runDir);
        RunCheckpoints checkpoints = new RunCheckpoints(runDir, 2);
        Optional<RunCheckpoints.Snapshot> snapshot = checkpoints.start(resume, () -> state(0));
        GaussianDiffusion model, ema;
        long start = 0;
        if (snapshot.isPresent()) {
            model = snapshot.get().model("diffusion", GaussianDiffusion.class);
            ema = snapshot.get().model("ema", GaussianDiffusion.class);
            start = snapshot.get().step();
        } else {
            torch.manual_seed(s.seed());
            model = config.build();
            ema = config.build();
            Ema.update(model, ema, 0, false); // the schedule's tables are constants
        }
        ema.eval();
        AdamWOptions options = new AdamWOptions(s.lr());
        options.weight_decay().put(s.weightDecay());
        TensorVector params = model.parameters();
        AdamW optimizer = new AdamW(params, options);
        Batches batches = parallel.shard(Batches.of(data).batchSize(s.batchSize()).seed(s.seed()).dropLast(true)
                .augmentation(s.flip() ? Augmentation.flip() : Augmentation.NONE).build());
        parallel.begin(start, List.of(model, ema));
        CosineSchedule lr = new CosineSchedule(s.lr(), Math.min(s.warmupSteps(), s.steps()), s.steps(), 0.1);
        model.train(true);
        long t0 = System.nanoTime();
        MetricsLog log = parallel.writesFiles() ? MetricsLog.open(runDir.resolve("metrics.jsonl"), start) : MetricsLog.discard();
        Path[] teacherFile = new Path[1];
        TrainingLoop.StepFunction step = new TrainingLoop.StepFunction() {
            @Override
            public Tensor loss(long step) {
                int epoch = (int) (step / batches.stepsPerEpoch());
                Batches.Batch batch = batches.batch(epoch, (int) (step % batches.stepsPerEpoch()));
                return model.trainingLoss(batch.images(), Noise.rows(SeedStreams.stepNoiseSeed(s.seed(), step), batch.offset(), batch.globalSize()));
            }

            @Override
            public void afterStep(long step) {
                Ema.update(model, ema, s.emaDecay(), false);
            }
        };
        TrainingLoop.Outcome outcome = TrainingLoop.builder(optimizer, params, lr, s.steps(), step)
                .seeds(n -> parallel.stepSeed(SeedStreams.stepSeed(s.seed(), n)))
                .parallel(parallel, List.of(model))
                .clipNorm(s.clipNorm())
                .stopAfter(stopAfter)
                .progress("train-teacher")
                .metrics(log, s.logEvery(), (record, window) -> record.put("loss", window.meanLoss()).put("lr", window.last().lr()))
                .checkpoints(checkpoints, snapshot, s.checkpointEvery(), Map.of("diffusion", model, "ema", ema), Map.of("adamw", optimizer),
                        this::state)
                .listener(new TrainingLoop.TrainingListener() {
                    @Override
                    public void onFinish(TrainingLoop.Outcome o) throws IOException {
                        if (o.end() == s.steps() && parallel.writesFiles()) {
                            teacherFile[0] = runDir.resolve("teacher.dtt");
                            Checkpoints.save(teacherFile[0], ema);
                        }
                    }
                })
                .owning(ema, model, params, optimizer)
                .build().run();
        return new Result(runDir, teacherFile[0], outcome.firstLoss(), outcome.lastLoss(), outcome.steps(), (System.nanoTime() - t0) / 1e9);
    }

    /** ema = decay·ema + (1 − decay)·model, parameters and buffers alike (decay 0 copies). */
    private JsonNode state(long step) {
        return SameRun.describe(step, s, config, data.toString() + ", sha256 " + data.fingerprint());
    }
}
