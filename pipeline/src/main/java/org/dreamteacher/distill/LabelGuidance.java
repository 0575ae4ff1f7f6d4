package org.dreamteacher.distill;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.InterpreterConfig;
import org.dreamteacher.nn.Losses;
import org.dreamteacher.nn.PixelInterpreter;
import org.dreamteacher.nn.SegmentationHead;
import org.dreamteacher.nn.SegmentationHeadConfig;
import org.dreamteacher.parallel.DataParallel;
import org.dreamteacher.torch.kernels.KernelAutograd;
import org.dreamteacher.torch.kernels.LossResult;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.train.CosineSchedule;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.TrainingLoop;

/**
 * Label-guided distillation (docs/design.md section 1, step 4). First a {@link PixelInterpreter} learns the task from
 * the few labelled images on the frozen teacher's features, with cross entropy + λ_d · Dice. Then, during
 * distillation, a task head on the student (the backbone's own classifier, or a {@link SegmentationHead}) learns
 * the interpreter's temperature-softened predictions on every pretraining image through the fused soft-target
 * cross entropy: L_mix = L_feat + λ_ld · H(P_τ^teacher, P_τ^student).
 *
 * <p>Both the interpreter and the student head see the teacher's features of the same noised images the
 * feature loss uses (the same {@link FeatureSource} call), so label guidance costs no extra teacher pass.
 * For classification the interpreter's image logits are its per-pixel logits averaged over the pixels
 * ({@link PixelInterpreter#pooled}); for segmentation they are per pixel at the image's size.
 */
public final class LabelGuidance {
    /** What the labels are: one class per image, or one class per pixel. */
    public enum Task {
        CLASSIFICATION, SEGMENTATION
    }

    /**
     * @param lambdaLd            weight of the label-distillation term (the paper: 1)
     * @param temperature         softening temperature τ of both distributions (the paper: 4)
     * @param interpreterSteps    optimiser steps of the interpreter on the labelled images
     * @param interpreterBatch    labelled images per interpreter step (at most the labelled images)
     * @param interpreterLr       peak learning rate of the interpreter's AdamW (cosine schedule)
     * @param diceWeight          λ_d of the interpreter's loss (the paper: 3)
     * @param interpreterChannels width of the interpreter
     */
    public record Settings(float lambdaLd, float temperature, int interpreterSteps, int interpreterBatch, double interpreterLr,
            double diceWeight, int interpreterChannels) {
        public Settings {
            if (!(lambdaLd > 0) || !Float.isFinite(lambdaLd)) throw new IllegalArgumentException("lambda_ld must be finite and > 0, got " + lambdaLd);
            if (!(temperature > 0) || !Float.isFinite(temperature)) throw new IllegalArgumentException("temperature must be finite and > 0, got " + temperature);
            if (interpreterSteps <= 0 || interpreterBatch <= 0) throw new IllegalArgumentException("interpreter steps and batch must be > 0");
            if (!(interpreterLr > 0)) throw new IllegalArgumentException("interpreter learning rate must be > 0");
            if (!(diceWeight >= 0) || !Double.isFinite(diceWeight)) throw new IllegalArgumentException("dice weight must be finite and >= 0");
            if (interpreterChannels <= 0) throw new IllegalArgumentException("interpreter channels must be > 0");
        }

        /** The paper's τ = 4, λ_ld = 1, λ_d = 3; interpreter training scaled to a few hundred labelled images. */
        public static Settings defaults() {
            return new Settings(1f, 4f, 200, 32, 1e-2, 3.0, 64);
        }

        public Settings withLambdaLd(float v) {
            return new Settings(v, temperature, interpreterSteps, interpreterBatch, interpreterLr, diceWeight, interpreterChannels);
        }

        public Settings withTemperature(float v) {
            return new Settings(lambdaLd, v, interpreterSteps, interpreterBatch, interpreterLr, diceWeight, interpreterChannels);
        }

        public Settings withInterpreterSteps(int v) {
            return new Settings(lambdaLd, temperature, v, interpreterBatch, interpreterLr, diceWeight, interpreterChannels);
        }

        public Settings withInterpreterBatch(int v) {
            return new Settings(lambdaLd, temperature, interpreterSteps, v, interpreterLr, diceWeight, interpreterChannels);
        }

        public Settings withInterpreterLr(double v) {
            return new Settings(lambdaLd, temperature, interpreterSteps, interpreterBatch, v, diceWeight, interpreterChannels);
        }

        public Settings withDiceWeight(double v) {
            return new Settings(lambdaLd, temperature, interpreterSteps, interpreterBatch, interpreterLr, v, interpreterChannels);
        }

        public Settings withInterpreterChannels(int v) {
            return new Settings(lambdaLd, temperature, interpreterSteps, interpreterBatch, interpreterLr, diceWeight, v);
        }
    }

    private final Task task;
    private final int numClasses;
    private final Batches labelled;
    private final Settings s;

    /**
     * @param labelled the labelled images, batched; their labels are (N) class indices for classification or
     *                 (N,H,W) label maps for segmentation, in [0, numClasses)
     */
    public LabelGuidance(Task task, int numClasses, Batches labelled, Settings settings) {
        if (task == null || labelled == null || settings == null) throw new IllegalArgumentException("task, labelled batches and settings are required");
        if (numClasses < 2) throw new IllegalArgumentException("label guidance needs at least 2 classes, got " + numClasses);
        this.task = task;
        this.numClasses = numClasses;
        this.labelled = labelled;
        this.s = settings;
    }

    public Task task() {
        return task;
    }

    public int numClasses() {
        return numClasses;
    }

    public Settings settings() {
        return s;
    }

    /** The labelled images the interpreter learns from. */
    public int labelledImages() {
        return labelled.samples();
    }

    /**
     * Trains the interpreter on the teacher's features of the labelled images and saves it to
     * {@code interpreter.dtt} in {@code runDir}; when that file already exists (a resumed run), loads it
     * instead. Deterministic for a seed: data order from the labelled {@link Batches}, libtorch's generator
     * re-seeded each step. The returned interpreter is frozen and in eval mode.
     *
     * <p>Data-parallel, every rank calls this: the ranks agree on whether the interpreter is already trained
     * (they must see the same run folder), start from rank 0's weights, train on their shares of each labelled
     * batch with averaged gradients, and rank 0 writes the file; every rank returns the same interpreter.
     */
    public PixelInterpreter interpreter(FeatureSource features, Path runDir, long seed) throws IOException {
        return interpreter(features, runDir, seed, DataParallel.SINGLE);
    }

    /** As {@link #interpreter(FeatureSource, Path, long)}, as one rank of {@code parallel}. */
    public PixelInterpreter interpreter(FeatureSource features, Path runDir, long seed, DataParallel parallel) throws IOException {
        Path file = runDir.resolve("interpreter.dtt");
        boolean trained = Files.exists(file);
        if (!trained) features = features.forLabelledImages(labelled, runDir, seed);
        PixelInterpreter interpreter = trained ? Checkpoints.load(file, PixelInterpreter.class) : newInterpreter(features, seed);
        // A step count stands for "trained or not", so that begin() also checks that every rank found the same file.
        parallel.begin(trained ? s.interpreterSteps() : 0, List.of(interpreter));
        if (!trained) {
            train(interpreter, features, runDir, seed, parallel);
            if (parallel.writesFiles()) Checkpoints.save(file, interpreter);
        }
        return frozen(interpreter);
    }

    private PixelInterpreter newInterpreter(FeatureSource features, long seed) {
        long[] channels;
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            List<FeatureMap> maps = features.features(labelled.batch(0, 0), INTERPRETER_STEPS);
            channels = new long[maps.size()];
            for (int i = 0; i < maps.size(); i++) channels[i] = maps.get(i).channels();
        }
        torch.manual_seed(SeedStreams.stepSeed(seed, INTERPRETER_STEPS));
        InterpreterConfig config = InterpreterConfig.of(channels, numClasses);
        config = new InterpreterConfig(config.teacherChannels(), s.interpreterChannels(), numClasses, config.dropout());
        return config.build();
    }

    private void train(PixelInterpreter interpreter, FeatureSource features, Path runDir, long seed, DataParallel parallel) throws IOException {
        Batches batches = parallel.shard(labelled);
        interpreter.train(true);
        TensorVector params = interpreter.parameters();
        AdamW optimizer = new AdamW(params, new AdamWOptions(s.interpreterLr()));
        CosineSchedule lr = new CosineSchedule(s.interpreterLr(), Math.min(20, s.interpreterSteps() / 10), s.interpreterSteps(), 0.01);
        double[] accuracy = new double[1];
        TrainingLoop.StepFunction step = new TrainingLoop.StepFunction() {
            private Tensor logits, labels;

            @Override
            public Tensor loss(long step) {
                int epoch = (int) (step / batches.stepsPerEpoch());
                Batches.Batch batch = batches.batch(epoch, (int) (step % batches.stepsPerEpoch()));
                List<Tensor> teacher;
                try (NoGradGuard ng = new NoGradGuard()) {
                    teacher = Backbone.tensors(features.features(batch, INTERPRETER_STEPS + step));
                }
                logits = interpreterLogits(interpreter, teacher, batch.images());
                labels = batch.labels();
                return Losses.crossEntropyDice(logits, labels, numClasses, s.diceWeight());
            }

            @Override
            public void afterStep(long step) {
                accuracy[0] = logits.argmax(new LongOptional(1), false).eq(labels).to(torch.ScalarType.Float).mean().item_double();
            }
        };
        MetricsLog log = parallel.writesFiles() ? MetricsLog.open(runDir.resolve("interpreter-metrics.jsonl"), 0) : MetricsLog.discard();
        TrainingLoop.builder(optimizer, params, lr, s.interpreterSteps(), step)
                .seeds(n -> parallel.stepSeed(SeedStreams.stepSeed(seed, INTERPRETER_STEPS + n)))
                .parallel(parallel, List.of(interpreter))
                .nonFinite("interpreter loss", "Lower the interpreter's learning rate and run again")
                .progress("interpreter")
                .metrics(log, 10, (record, window) -> record.put("interpreter_loss", window.last().loss())
                        .put("interpreter_train_accuracy", accuracy[0]))
                .owning(params, optimizer)
                .build().run();
    }

    /**
     * The student's task head for segmentation (null for classification, which uses the backbone's own
     * classifier, sized by {@link #prepareBackbone}).
     */
    public SegmentationHead newSegmentationHead(Backbone backbone) {
        return task == Task.SEGMENTATION ? SegmentationHeadConfig.forBackbone(backbone, numClasses).build() : null;
    }

    /** Gives a classification backbone a head of {@link #numClasses()} outputs when it has another size. */
    public void prepareBackbone(Backbone backbone) {
        if (task == Task.CLASSIFICATION && backbone.numClasses() != numClasses) backbone.resetHead(numClasses);
    }

    /** The parameters the label term trains besides the backbone's. */
    public List<Tensor> headParameters(Backbone backbone, SegmentationHead head) {
        if (task == Task.CLASSIFICATION) return backbone.headParameters();
        List<Tensor> out = new ArrayList<>();
        TensorVector v = head.parameters();
        for (long i = 0; i < v.size(); i++) out.add(v.get(i));
        return out;
    }

    /** L_ld and its value: the student head's logits against the frozen interpreter's, both softened by τ. */
    public record Term(Tensor loss, double value) {}

    /**
     * The label-distillation term of one batch (not yet weighted by λ_ld).
     *
     * @param teacherMaps  all of the teacher's maps of the batch, in the order the interpreter was trained on
     * @param studentMaps  the backbone's feature maps of the same images
     */
    public Term term(TensorLossKernels kernels, PixelInterpreter interpreter, Backbone backbone, SegmentationHead head,
            List<FeatureMap> teacherMaps, List<FeatureMap> studentMaps, Tensor images) {
        Tensor target;
        try (NoGradGuard ng = new NoGradGuard()) {
            target = interpreterLogits(interpreter, Backbone.tensors(teacherMaps), images).contiguous();
        }
        Tensor student = (task == Task.CLASSIFICATION ? backbone.classifyFeatures(studentMaps)
                : head.forwardFeatures(studentMaps, images.size(2), images.size(3))).contiguous();
        LossResult r = kernels.softTargetCe(student, target, s.temperature(), 1f, true);
        return new Term(KernelAutograd.attach(student, r), r.lossValue());
    }

    private Tensor interpreterLogits(PixelInterpreter interpreter, List<Tensor> teacher, Tensor images) {
        return task == Task.CLASSIFICATION ? interpreter.pooled(teacher) : interpreter.forward(teacher, images.size(2), images.size(3));
    }

    private static PixelInterpreter frozen(PixelInterpreter interpreter) {
        interpreter.train(false);
        TensorVector p = interpreter.parameters();
        for (long i = 0; i < p.size(); i++) p.get(i).set_requires_grad(false);
        return interpreter;
    }

    /**
     * Interpreter steps draw their noise from keys far above any distillation step, so the two stages never
     * share the noise of a step.
     */
    private static final long INTERPRETER_STEPS = 1L << 40;

    /** For logs: "classification, 600 labelled images, τ = 4, λ_ld = 1". */
    public String describe() {
        return String.format(java.util.Locale.ROOT, "%s, %d labelled images, tau = %s, lambda_ld = %s", task.name().toLowerCase(java.util.Locale.ROOT),
                labelledImages(), s.temperature(), s.lambdaLd());
    }
}
