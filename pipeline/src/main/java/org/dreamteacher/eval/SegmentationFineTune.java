package org.dreamteacher.eval;

import static org.dreamteacher.eval.EvalSupport.checkSettings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Augmentation;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.FashionScenes;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.viz.Pictures;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.data.SegmentationDataset;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.SegmentationHead;
import org.dreamteacher.nn.SegmentationHeadConfig;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;

/**
 * The dense half of the evaluation: a backbone plus a light {@link SegmentationHead} trained on a few
 * labelled Fashion-MNIST scenes, scored by mIoU on test scenes. The paper's gains are largest on dense tasks,
 * so this is where a pretrained backbone should first show an advantage over random initialisation.
 *
 * <p>Train scenes are built from the training split's items and test scenes from the test split's, so no
 * test item is ever seen in training. Train scene i depends only on (seed, i): the first 50 scenes of a seed
 * are among its first 200, and label counts compare like nested label fractions do. Test scenes use a fixed
 * seed of their own so that every run is scored on the same scenes.
 *
 * <p>mIoU comes from one {@link ConfusionMatrix} accumulated over all test pixels.
 */
public final class SegmentationFineTune {

    private SegmentationFineTune() {}

    /**
     * Hyper-parameters of one run.
     *
     * @param mode           {@link Mode#LINEAR_PROBE}: backbone frozen in eval mode, only the head trains;
     *                       {@link Mode#FINE_TUNE}: everything trains
     * @param steps          optimiser steps
     * @param batchSize      scenes per step (capped at the number of labelled scenes; partial batches dropped)
     * @param lr             peak learning rate (AdamW, linear warm-up then cosine decay to 1%)
     * @param weightDecay    AdamW's decoupled weight decay
     * @param warmupFraction share of the steps spent warming up
     * @param flip           random horizontal flips of scene and label map together
     * @param headChannels   width of the head's laterals and fused map
     * @param seed           the head's initial weights, batch order, flips, generator per step
     * @param evalBatchSize  scenes per forward at test time
     * @param overlaySamples test scenes drawn in the overlay picture (0 for none)
     */
    public record Settings(Mode mode, int steps, int batchSize, double lr, double weightDecay, double warmupFraction, boolean flip,
            int headChannels, long seed, int evalBatchSize, int overlaySamples) {
        public Settings {
            checkSettings(mode != null, "mode is null");
            checkSettings(steps > 0, "steps must be > 0, got " + steps);
            checkSettings(batchSize > 0, "batch size must be > 0, got " + batchSize);
            checkSettings(lr > 0 && Double.isFinite(lr), "learning rate must be finite and > 0, got " + lr);
            checkSettings(weightDecay >= 0 && Double.isFinite(weightDecay), "weight decay must be finite and >= 0, got " + weightDecay);
            checkSettings(warmupFraction >= 0 && warmupFraction <= 1, "warm-up fraction must be in [0, 1], got " + warmupFraction);
            checkSettings(headChannels > 0, "head channels must be > 0, got " + headChannels);
            checkSettings(evalBatchSize > 0, "eval batch size must be > 0, got " + evalBatchSize);
            checkSettings(overlaySamples >= 0, "overlay samples must be >= 0, got " + overlaySamples);
        }

        /**
         * Defaults per mode: 500 steps of 16 scenes, flips, 5% warm-up, a 64-channel head (the head's 3x3 fuse
         * conv runs at the finest feature level, which is the full 64x64 canvas with a small-stem ResNet); probe
         * lr 5e-3 without weight decay, fine-tune lr 1e-3 with weight decay 0.05.
         */
        public static Settings defaults(Mode mode) {
            return mode == Mode.LINEAR_PROBE
                    ? new Settings(mode, 500, 16, 5e-3, 0.0, 0.05, true, 64, 0, 32, 6)
                    : new Settings(mode, 500, 16, 1e-3, 0.05, 0.05, true, 64, 0, 32, 6);
        }

        public Settings withSeed(long s) {
            return new Settings(mode, steps, batchSize, lr, weightDecay, warmupFraction, flip, headChannels, s, evalBatchSize,
                    overlaySamples);
        }

        public Settings withSteps(int n) {
            return new Settings(mode, n, batchSize, lr, weightDecay, warmupFraction, flip, headChannels, seed, evalBatchSize,
                    overlaySamples);
        }

        public Settings withBatchSize(int b) {
            return new Settings(mode, steps, b, lr, weightDecay, warmupFraction, flip, headChannels, seed, evalBatchSize, overlaySamples);
        }

        public Settings withHeadChannels(int c) {
            return new Settings(mode, steps, batchSize, lr, weightDecay, warmupFraction, flip, c, seed, evalBatchSize, overlaySamples);
        }

        public Settings withLr(double r) {
            return new Settings(mode, steps, batchSize, r, weightDecay, warmupFraction, flip, headChannels, seed, evalBatchSize,
                    overlaySamples);
        }

        public Settings withMode(Mode v) {
            return new Settings(v, steps, batchSize, lr, weightDecay, warmupFraction, flip, headChannels, seed, evalBatchSize,
                    overlaySamples);
        }

        public Settings withWeightDecay(double v) {
            return new Settings(mode, steps, batchSize, lr, v, warmupFraction, flip, headChannels, seed, evalBatchSize, overlaySamples);
        }

        public Settings withWarmupFraction(double v) {
            return new Settings(mode, steps, batchSize, lr, weightDecay, v, flip, headChannels, seed, evalBatchSize, overlaySamples);
        }

        public Settings withFlip(boolean v) {
            return new Settings(mode, steps, batchSize, lr, weightDecay, warmupFraction, v, headChannels, seed, evalBatchSize,
                    overlaySamples);
        }

        public Settings withEvalBatchSize(int v) {
            return new Settings(mode, steps, batchSize, lr, weightDecay, warmupFraction, flip, headChannels, seed, v, overlaySamples);
        }

        public Settings withOverlaySamples(int v) {
            return new Settings(mode, steps, batchSize, lr, weightDecay, warmupFraction, flip, headChannels, seed, evalBatchSize, v);
        }
    }

    /**
     * What one run measured.
     *
     * @param meanIoU       mean of {@code classIoU} over the classes present in targets or predictions
     * @param pixelAccuracy share of test pixels classified correctly
     * @param classIoU      IoU per class (index = class, 0 = background), NaN for a class absent from both
     * @param finalLoss     mean pixel cross entropy over the last 10 steps
     * @param seconds       wall time of training, evaluation and overlay
     * @param overlay       the overlay picture (image, truth, prediction per row), or null
     * @param confusion     the test pixels' confusion matrix the IoUs come from
     */
    public record Result(Mode mode, int trainScenes, int testScenes, long seed, double meanIoU, double pixelAccuracy, double[] classIoU,
            int steps, int batchSize, double finalLoss, double seconds, Path overlay, ConfusionMatrix confusion) {}

    /** Labelled train scenes 0..count-1 of the generator keyed by {@code seed}, from training-split items. */
    public static SegmentationDataset trainScenes(ImageDataset trainItems, FashionScenes.Options options, int count, long seed) {
        if (count <= 0) throw new IllegalArgumentException("need at least one train scene, got " + count);
        return new FashionScenes(trainItems, options, SeededRandom.mix(seed, SeedStreams.TRAIN_SCENES)).generate(count);
    }

    /** Test scenes 0..count-1 of the generator seeded with {@code testSeed}, from test-split items. */
    public static SegmentationDataset testScenes(ImageDataset testItems, FashionScenes.Options options, int count, long testSeed) {
        if (count <= 0) throw new IllegalArgumentException("need at least one test scene, got " + count);
        return new FashionScenes(testItems, options, testSeed).generate(count);
    }

    /** Opens a fresh backbone from {@code source} (seeded by the run's seed), runs, and closes it. */
    public static Result run(BackboneSource source, SegmentationDataset train, SegmentationDataset test, Settings s, Path outputDir)
            throws IOException {
        try (ConfiguredModule m = source.open(SeededRandom.mix(s.seed(), SeedStreams.BACKBONE_INIT))) {
            return run(m, train, test, s, outputDir);
        }
    }

    /**
     * Trains a new head (and in fine-tune mode the backbone, in place) on every scene of {@code train}, then
     * scores the test scenes. With an {@code outputDir} the overlay of the first test predictions is written
     * there as {@code seg-<mode>-<n>scenes-s<seed>.png}. The backbone is left in eval mode with gradients on.
     */
    public static Result run(ConfiguredModule backbone, SegmentationDataset train, SegmentationDataset test, Settings s, Path outputDir)
            throws IOException {
        TorchRuntime.init();
        Backbone b = EvalSupport.backbone(backbone);
        check(b, train, "train");
        check(b, test, "test");
        if (train.numClasses() != test.numClasses())
            throw new IllegalArgumentException("train has " + train.numClasses() + " classes, test has " + test.numClasses());
        long t0 = System.nanoTime();
        int numClasses = train.numClasses();
        int batchSize = Math.min(s.batchSize(), train.size());
        Batches batches = Batches.of(train).batchSize(batchSize).seed(s.seed()).dropLast(true)
                .augmentation(s.flip() ? Augmentation.flip() : Augmentation.NONE).build();

        torch.manual_seed(SeededRandom.mix(s.seed(), SeedStreams.HEAD_INIT));
        SegmentationHeadConfig hc = new SegmentationHeadConfig(Arrays.stream(b.featureChannels()).boxed().toList(), s.headChannels(),
                numClasses, "sum");
        try (SegmentationHead head = hc.build()) {
            boolean probe = s.mode() == Mode.LINEAR_PROBE;
            List<Tensor> trainable = new ArrayList<>();
            if (probe) {
                b.freezeBackbone(true);
                backbone.eval();
            } else {
                b.freezeBackbone(false);
                backbone.train(true);
                trainable.addAll(b.backboneParameters());
            }
            head.train(true);
            TensorVector hp = head.parameters();
            for (long i = 0; i < hp.size(); i++) trainable.add(hp.get(i));
            double[] recent = new double[10];
            String task = "seg " + s.mode().label() + " " + train.size() + " s" + s.seed();
            long h = train.height(), w = train.width();
            EvalSupport.crossEntropyLoop(EvalSupport.vector(trainable), s.lr(), s.weightDecay(), s.warmupFraction(), s.steps(), batches,
                    batch -> head.forwardFeatures(b.features(batch.images()), h, w), s.seed(), task, recent, () -> {
                        b.freezeBackbone(false);
                        backbone.eval();
                        head.eval();
                    }).build().run();
            ConfusionMatrix cm = confusion(backbone, head, test, s.evalBatchSize());
            Path overlay = null;
            if (outputDir != null && s.overlaySamples() > 0) {
                Files.createDirectories(outputDir);
                overlay = outputDir.resolve("seg-" + s.mode().label() + "-" + train.size() + "scenes-s" + s.seed() + ".png");
                saveOverlay(overlay, backbone, head, test, Math.min(s.overlaySamples(), test.size()));
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            return new Result(s.mode(), train.size(), test.size(), s.seed(), cm.meanIoU(), cm.pixelAccuracy(), cm.iou(), s.steps(), batchSize,
                    EvalSupport.tailMean(recent, s.steps()), seconds, overlay, cm);
        }
    }

    /**
     * The confusion matrix of {@code head} on {@code backbone}'s features over a whole segmentation set, in
     * eval mode without gradients, {@code batchSize} scenes per forward.
     */
    public static ConfusionMatrix confusion(ConfiguredModule backbone, SegmentationHead head, SegmentationDataset data, int batchSize) {
        TorchRuntime.init();
        Backbone b = EvalSupport.backbone(backbone);
        check(b, data, "evaluation");
        if (head.config().numClasses() != data.numClasses())
            throw new IllegalArgumentException("the head has " + head.config().numClasses() + " classes, the data " + data.numClasses());
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be > 0, got " + batchSize);
        backbone.eval();
        head.eval();
        ConfusionMatrix cm = new ConfusionMatrix(data.numClasses());
        int n = data.size();
        try (Progress bar = Progress.start("seg test", (n + batchSize - 1) / batchSize, 0, "batch")) {
            for (int from = 0; from < n; from += batchSize) {
                int[] idx = range(from, Math.min(batchSize, n - from));
                try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                    cm.add(data.labelsTensor(idx), predict(b, head, data.toTensor(idx)));
                }
                bar.step(null);
            }
        }
        return cm;
    }

    private static Tensor predict(Backbone b, SegmentationHead head, Tensor x) {
        return head.forwardFeatures(b.features(x), x.size(2), x.size(3)).argmax(new LongOptional(1), false);
    }

    private static void saveOverlay(Path png, ConfiguredModule backbone, SegmentationHead head, SegmentationDataset test, int count)
            throws IOException {
        int[] idx = range(0, count);
        backbone.eval();
        head.eval();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor x = test.toTensor(idx);
            Pictures.saveOverlays(png, x, List.of(test.labelsTensor(idx), predict(EvalSupport.backbone(backbone), head, x)), 3);
        }
    }

    private static int[] range(int from, int count) {
        int[] idx = new int[count];
        for (int j = 0; j < count; j++) idx[j] = from + j;
        return idx;
    }

    private static void check(Backbone b, SegmentationDataset d, String what) {
        if (d == null) throw new IllegalArgumentException(what + " scenes are null");
        if (d.size() == 0) throw new IllegalArgumentException("no " + what + " scenes");
        if (d.images().channels() != b.inChannels())
            throw new IllegalArgumentException(what + " scenes have " + d.images().channels() + " channels, the backbone expects " + b.inChannels());
    }
}
