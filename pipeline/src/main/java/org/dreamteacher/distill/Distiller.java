package org.dreamteacher.distill;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Augmentation;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.FeatureRegressor;
import org.dreamteacher.nn.FeatureRegressorConfig;
import org.dreamteacher.nn.FeatureTeacher;
import org.dreamteacher.nn.InitWeights;
import org.dreamteacher.nn.ModelConfig;
import org.dreamteacher.nn.PixelInterpreter;
import org.dreamteacher.nn.SegmentationHead;
import org.dreamteacher.nn.TeacherInput;
import org.dreamteacher.parallel.DataParallel;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.train.CosineSchedule;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.ResumableRun;
import org.dreamteacher.train.RunCheckpoints;
import org.dreamteacher.train.RunLock;
import org.dreamteacher.train.TrainingLoop;

/**
 * Unsupervised DreamTeacher pretraining: a backbone plus a {@link FeatureRegressor} learn to predict the frozen
 * teacher's multi-scale features of each image, encoded online (the image is noised to timestep t with fresh
 * noise and the teacher runs once) or read from a {@link FeatureStore}, under {@link FeatureDistillationLoss} through the fused kernels. AdamW,
 * cosine schedule with warm-up, gradient clipping.
 *
 * <p>Every source of randomness is a function of (seed, step): the data order and flips (epoch-seeded
 * {@link Batches}), the encoding noise and libtorch's generator (re-seeded each step, for dropout and drop
 * path). A run resumed from a checkpoint therefore ends with the same weights as an uninterrupted one.
 */
public final class Distiller implements ResumableRun<Distiller.Result> {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Hyper-parameters; {@link #defaults()} follows the paper, scaled to small data. */
    public record Settings(int steps, int batchSize, double lr, double weightDecay, int warmupSteps, double clipNorm,
            int timestep, float lambdaAt, WhitenMode whitenMode, AttentionDistance distance, long seed, int checkpointEvery,
            int logEvery, boolean flip, int regressorChannels) {
        public Settings {
            if (steps <= 0 || batchSize <= 1) throw new IllegalArgumentException("steps must be > 0 and batch size > 1");
            if (checkpointEvery <= 0 || logEvery <= 0) throw new IllegalArgumentException("checkpoint and log intervals must be > 0");
            if (timestep < 0) throw new IllegalArgumentException("timestep must be >= 0");
        }

        public static Settings defaults() {
            return new Settings(1000, 64, 1e-3, 0.05, 50, 1.0, 10, 10f, WhitenMode.PER_SAMPLE, AttentionDistance.NORM, 0,
                    200, 10, true, 128);
        }

        public Settings withSteps(int s) {
            return new Settings(s, batchSize, lr, weightDecay, Math.min(warmupSteps, s), clipNorm, timestep, lambdaAt, whitenMode,
                    distance, seed, checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withBatchSize(int v) {
            return new Settings(steps, v, lr, weightDecay, warmupSteps, clipNorm, timestep, lambdaAt, whitenMode, distance, seed,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withLr(double v) {
            return new Settings(steps, batchSize, v, weightDecay, warmupSteps, clipNorm, timestep, lambdaAt, whitenMode, distance, seed,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withWeightDecay(double v) {
            return new Settings(steps, batchSize, lr, v, warmupSteps, clipNorm, timestep, lambdaAt, whitenMode, distance, seed,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withWarmupSteps(int v) {
            return new Settings(steps, batchSize, lr, weightDecay, v, clipNorm, timestep, lambdaAt, whitenMode, distance, seed,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withClipNorm(double v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, v, timestep, lambdaAt, whitenMode, distance, seed,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withTimestep(int v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, v, lambdaAt, whitenMode, distance, seed,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withLambdaAt(float v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, timestep, v, whitenMode, distance, seed,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withWhitenMode(WhitenMode v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, timestep, lambdaAt, v, distance, seed,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withDistance(AttentionDistance v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, timestep, lambdaAt, whitenMode, v, seed,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withSeed(long v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, timestep, lambdaAt, whitenMode, distance, v,
                    checkpointEvery, logEvery, flip, regressorChannels);
        }

        public Settings withCheckpointEvery(int v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, timestep, lambdaAt, whitenMode, distance, seed, v,
                    logEvery, flip, regressorChannels);
        }

        public Settings withLogEvery(int v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, timestep, lambdaAt, whitenMode, distance, seed,
                    checkpointEvery, v, flip, regressorChannels);
        }

        public Settings withFlip(boolean v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, timestep, lambdaAt, whitenMode, distance, seed,
                    checkpointEvery, logEvery, v, regressorChannels);
        }

        public Settings withRegressorChannels(int v) {
            return new Settings(steps, batchSize, lr, weightDecay, warmupSteps, clipNorm, timestep, lambdaAt, whitenMode, distance, seed,
                    checkpointEvery, logEvery, flip, v);
        }
    }

    /** What a run produced; {@code backboneFile} is null when it stopped before the last step. */
    public record Result(Path runDir, Path backboneFile, TapPairing pairing, double firstLoss, double lastLoss, long steps,
            double seconds) {}

    private final FeatureSource features;
    private final String teacherSource;
    private final ModelConfig backboneConfig;
    private final ImageDataset data;
    private final TensorLossKernels kernels;
    private final Settings s;
    private final LabelGuidance guidance;
    private DataParallel parallel = DataParallel.SINGLE;
    private Path initWeights;

    /** Distils features encoded online: each batch noised to {@code settings.timestep()}, the teacher run once. */
    public Distiller(FeatureTeacher teacher, NoiseSchedule schedule, String teacherSource, ModelConfig backboneConfig,
            ImageDataset data, TensorLossKernels kernels, Settings settings) {
        this(checkedOnline(teacher, schedule, data, settings), teacherSource, backboneConfig, data, kernels, settings);
    }

    /**
     * Distils features from any source, e.g. {@link StoredFeatures} of a {@link FeatureStore} encoded once
     * (stored features need {@code flip = false}: the store holds the features of the unflipped images).
     */
    public Distiller(FeatureSource features, String teacherSource, ModelConfig backboneConfig, ImageDataset data,
            TensorLossKernels kernels, Settings settings) {
        this(features, teacherSource, backboneConfig, data, kernels, settings, null);
    }

    private Distiller(FeatureSource features, String teacherSource, ModelConfig backboneConfig, ImageDataset data,
            TensorLossKernels kernels, Settings settings, LabelGuidance guidance) {
        this.guidance = guidance;
        this.features = features;
        this.teacherSource = teacherSource;
        this.backboneConfig = backboneConfig;
        this.data = data;
        this.kernels = kernels;
        this.s = settings;
    }

    /**
     * This distillation with label guidance: L_mix = L_feat + λ_ld · L_ld. Before the first step the interpreter
     * is trained (or, on resume, loaded) and saved as {@code interpreter.dtt}; the student's task head trains
     * with the backbone and is saved with it (the backbone's classifier, or {@code seghead.dtt}).
     */
    public Distiller withLabelGuidance(LabelGuidance labelGuidance) {
        if (labelGuidance == null) throw new IllegalArgumentException("label guidance is required");
        return new Distiller(features, teacherSource, backboneConfig, data, kernels, s, labelGuidance).parallel(parallel)
                .initWeights(initWeights);
    }

    /**
     * Starts the backbone from the weights in {@code file} (safetensors or a checkpoint, loaded by
     * {@link InitWeights}) instead of random ones; null for random. A resumed run continues from its checkpoint,
     * and the file (path and content) is part of the settings that a resume must repeat.
     */
    public Distiller initWeights(Path file) {
        this.initWeights = file;
        return this;
    }

    /** Trains data-parallel: this process is one rank of {@code parallel} (default: {@link DataParallel#SINGLE}). */
    public Distiller parallel(DataParallel parallel) {
        this.parallel = parallel;
        return this;
    }

    private static FeatureSource checkedOnline(FeatureTeacher teacher, NoiseSchedule schedule, ImageDataset data, Settings settings) {
        if (data.channels() != teacher.inChannels())
            throw new IllegalArgumentException("the data has " + data.channels() + " channels, the teacher expects " + teacher.inChannels());
        if (settings.timestep() >= schedule.timesteps())
            throw new IllegalArgumentException("timestep " + settings.timestep() + " is outside the teacher's schedule of " + schedule.timesteps());
        return new OnlineFeatures(teacher, schedule, settings.timestep(), settings.seed());
    }

    /** The batches of a run: seeded, last partial batch dropped, flipped when the settings say so. */
    private Batches batches() {
        return Batches.of(data).batchSize(s.batchSize()).seed(s.seed()).dropLast(true)
                .augmentation(s.flip() ? Augmentation.flip() : Augmentation.NONE).build();
    }

    /** The pairing of the teacher's taps with the backbone's levels that {@link #run} will use. */
    public TapPairing pairing(Backbone backbone) {
        return pairing(backbone, batches());
    }

    /** The teacher's taps on the first batch: names, strides and channels, used to pair them with backbone levels. */
    public TapPairing pairing(Backbone backbone, Batches batches) {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            List<FeatureMap> maps = features.features(batches.batch(0, 0), 0);
            String[] names = new String[maps.size()];
            int[] strides = new int[maps.size()];
            long[] channels = new long[maps.size()];
            for (int i = 0; i < maps.size(); i++) {
                names[i] = maps.get(i).name();
                strides[i] = maps.get(i).stride();
                channels[i] = maps.get(i).channels();
            }
            return TapPairing.pair(backbone.featureStrides(), backbone.featureChannels(), names, strides, channels);
        }
    }

    @Override
    public Result run(Path runDir, boolean resume, long stopAfter) throws IOException {
        // One run per folder: a second one fails here, naming the first's process (only rank 0 writes files).
        return RunLock.holding(runDir, parallel.writesFiles(), () -> runUnlocked(runDir, resume, stopAfter));
    }

    private Result runUnlocked(Path runDir, boolean resume, long stopAfter) throws IOException {
        Files.createDirectories(runDir);
        RunCheckpoints checkpoints = new RunCheckpoints(runDir, 2);
        // every setting, the backbone, the teacher (path, file and input contract), the data and the label guidance; only --steps may grow
        Optional<RunCheckpoints.Snapshot> snapshot = checkpoints.start(resume, () -> state(0, null));

        ConfiguredModule backboneModule;
        FeatureRegressor regressor;
        SegmentationHead segHead = null;
        long start;
        if (snapshot.isPresent()) {
            backboneModule = snapshot.get().model("backbone");
            regressor = snapshot.get().model("regressor", FeatureRegressor.class);
            if (guidance != null && guidance.task() == LabelGuidance.Task.SEGMENTATION)
                segHead = snapshot.get().model("seghead", SegmentationHead.class);
            start = snapshot.get().step();
        } else {
            torch.manual_seed(s.seed());
            backboneModule = backboneConfig.build();
            if (initWeights != null) {
                try {
                    InitWeights.load(initWeights, backboneModule);
                } catch (IOException | RuntimeException e) {
                    backboneModule.close();
                    throw e;
                }
            }
            start = 0;
            regressor = null;
        }
        if (!(backboneModule instanceof Backbone backbone)) throw new IllegalArgumentException(backboneConfig.kind() + " is not a backbone");
        Batches batches = parallel.shard(batches());
        TapPairing pairing = pairing(backbone, batches);
        if (regressor == null) {
            regressor = (FeatureRegressor) FeatureRegressorConfig.of(backbone.featureChannels(), pairing.backboneLevels(),
                    pairing.teacherChannels(), s.regressorChannels()).build();
            if (guidance != null) {
                guidance.prepareBackbone(backbone);
                segHead = guidance.newSegmentationHead(backbone);
            }
        }
        PixelInterpreter interpreter = guidance == null ? null : guidance.interpreter(features, runDir, s.seed(), parallel);

        TensorVector params = new TensorVector();
        for (Tensor p : backbone.backboneParameters()) params.push_back(p);
        TensorVector rp = regressor.parameters();
        for (long i = 0; i < rp.size(); i++) params.push_back(rp.get(i));
        if (guidance != null) for (Tensor p : guidance.headParameters(backbone, segHead)) params.push_back(p);
        Map<String, ConfiguredModule> saved = new LinkedHashMap<>();
        saved.put("backbone", backboneModule);
        saved.put("regressor", regressor);
        if (segHead != null) saved.put("seghead", segHead);
        AdamWOptions options = new AdamWOptions(s.lr());
        options.weight_decay().put(s.weightDecay());
        AdamW optimizer = new AdamW(params, options);
        parallel.begin(start, List.copyOf(saved.values()));

        CosineSchedule lr = new CosineSchedule(s.lr(), s.warmupSteps(), s.steps(), 0.01);
        FeatureDistillationLoss lossFn = new FeatureDistillationLoss(kernels, s.whitenMode(), s.lambdaAt(), 2f, s.distance());
        backboneModule.train(true);
        regressor.train(true);
        if (segHead != null) segHead.train(true);

        long t0 = System.nanoTime();
        MetricsLog log = parallel.writesFiles() ? MetricsLog.open(runDir.resolve("metrics.jsonl"), start) : MetricsLog.discard();
        double[] terms = new double[3]; // whitened MSE, attention transfer, label distillation of the last step
        Path[] backboneFile = new Path[1];
        FeatureRegressor regressorModule = regressor;
        SegmentationHead head = segHead;
        TrainingLoop.StepFunction step = new TrainingLoop.StepFunction() {
            private FeatureDistillationLoss.Terms stepTerms;

            @Override
            public Tensor loss(long step) {
                int epoch = (int) (step / batches.stepsPerEpoch());
                Batches.Batch batch = batches.batch(epoch, (int) (step % batches.stepsPerEpoch()));
                List<Tensor> targets = new ArrayList<>();
                List<FeatureMap> maps;
                Tensor images;
                try (NoGradGuard ng = new NoGradGuard()) {
                    FeatureSource.Sample sample = features.sample(batch, step);
                    maps = sample.features();
                    images = sample.images();
                    for (String name : pairing.teacherNames())
                        for (FeatureMap m : maps) if (m.name().equals(name)) targets.add(m.tensor());
                }
                List<FeatureMap> feats = backbone.features(images);
                stepTerms = lossFn.compute(regressorModule.forwardFeatures(feats), targets);
                Tensor total = stepTerms.total();
                terms[2] = Double.NaN;
                if (guidance != null) {
                    LabelGuidance.Term term = guidance.term(kernels, interpreter, backbone, head, maps, feats, images);
                    total = total.add(term.loss().mul(new Scalar(guidance.settings().lambdaLd())));
                    terms[2] = term.value();
                }
                return total;
            }

            @Override
            public void afterStep(long step) {
                terms[0] = stepTerms.whitenedMse();
                terms[1] = stepTerms.attention();
            }
        };
        List<AutoCloseable> owned = new ArrayList<>(List.of(backboneModule, regressor));
        if (interpreter != null) owned.add(interpreter);
        if (segHead != null) owned.add(segHead);
        owned.add(params);
        owned.add(optimizer);
        TrainingLoop.Outcome outcome = TrainingLoop.builder(optimizer, params, lr, s.steps(), step)
                .seeds(n -> parallel.stepSeed(SeedStreams.stepSeed(s.seed(), n)))
                .parallel(parallel, List.copyOf(saved.values()))
                .clipNorm(s.clipNorm())
                .stopAfter(stopAfter)
                .progress("distill")
                .metrics(log, s.logEvery(), (record, window) -> {
                    record.put("loss", window.last().loss()).put("whitened_mse", terms[0]).put("attention", terms[1]);
                    if (guidance != null) record.put("label_distill", terms[2]);
                    record.put("lr", window.last().lr());
                })
                .checkpoints(checkpoints, snapshot, s.checkpointEvery(), saved, Map.of("adamw", optimizer), done -> state(done, pairing))
                .listener(new TrainingLoop.TrainingListener() {
                    @Override
                    public void onFinish(TrainingLoop.Outcome o) throws IOException {
                        if (o.end() == s.steps() && parallel.writesFiles()) {
                            backboneFile[0] = runDir.resolve("backbone.dtt");
                            org.dreamteacher.nn.Checkpoints.save(backboneFile[0], backboneModule);
                            org.dreamteacher.nn.Checkpoints.save(runDir.resolve("regressor.dtt"), regressorModule);
                            if (head != null) org.dreamteacher.nn.Checkpoints.save(runDir.resolve("seghead.dtt"), head);
                        }
                    }
                })
                .owning(owned.toArray(AutoCloseable[]::new))
                .build().run();
        double seconds = (System.nanoTime() - t0) / 1e9;
        return new Result(runDir, backboneFile[0], pairing, outcome.firstLoss(), outcome.lastLoss(), outcome.steps(), seconds);
    }

    private JsonNode state(long step, TapPairing pairing) {
        ObjectNode n = JSON.createObjectNode();
        n.put("step", step);
        n.put("teacher", teacherSource);
        // Only the clean contract is written (absent means noised), so that a noised run's state does not depend on the field.
        if (features.teacherInput() != TeacherInput.NOISED) n.put("teacherInput", features.teacherInput().key());
        String teacherSha = teacherSha256();
        if (teacherSha != null) n.put("teacherSha256", teacherSha);
        if (initWeights != null) {
            if (initSha == null) initSha = sha256(initWeights);
            n.put("init", initWeights.toAbsolutePath().normalize() + (initSha == null ? "" : ", sha256 " + initSha));
        }
        n.set("backbone", org.dreamteacher.nn.ModelConfigs.toJson(backboneConfig));
        n.put("data", data.toString() + ", sha256 " + data.fingerprint());
        n.set("settings", JSON.valueToTree(s));
        if (guidance != null) n.set("labelGuidance", guidanceState());
        if (pairing != null) n.put("pairing", pairing.describe());
        return n;
    }

    private String teacherSha;
    private String initSha;

    /** SHA-256 of the teacher's file when the source names one (a different teacher at the same path differs). */
    private String teacherSha256() {
        if (teacherSha == null) {
            String f = teacherSource.startsWith("torchscript:") ? teacherSource.substring("torchscript:".length()) : teacherSource;
            try {
                teacherSha = sha256(Path.of(f));
            } catch (java.nio.file.InvalidPathException e) {
                return null;
            }
        }
        return teacherSha;
    }

    /** SHA-256 of a file as hex, or null when it cannot be read. */
    private static String sha256(Path p) {
        try {
            if (!Files.isRegularFile(p)) return null;
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            try (var in = Files.newInputStream(p)) {
                byte[] buf = new byte[1 << 16];
                for (int k; (k = in.read(buf)) > 0; ) md.update(buf, 0, k);
            }
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            return null;
        }
    }

    /** The label guidance as the run state stores it (written and read back, so that it compares with a stored one). */
    private JsonNode guidanceState() {
        ObjectNode g = JSON.valueToTree(guidance.settings());
        g.put("task", guidance.task().name());
        g.put("numClasses", guidance.numClasses());
        g.put("labelledImages", guidance.labelledImages());
        try {
            return JSON.readTree(JSON.writeValueAsString(g));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }



}
