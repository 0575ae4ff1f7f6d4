package org.dreamteacher.eval;

import static org.dreamteacher.eval.EvalSupport.checkSettings;

import java.io.IOException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.data.Augmentation;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.data.Splits;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;
import org.dreamteacher.train.TrainingLoop;

/**
 * Label-efficient classification (docs/design.md section 6): adapts a backbone to a balanced fraction of the labels,
 * by a linear probe on frozen features ({@link Mode#LINEAR_PROBE}) or by fine-tuning everything
 * ({@link Mode#FINE_TUNE}), then measures top-1 accuracy on the test set. The same entry point serves
 * pretrained and random backbones, so a comparison between them differs in the weights only.
 *
 * <p>The probe follows MAE's recipe for its features: the frozen backbone, in eval mode so that its BatchNorm
 * statistics stay put, turns every image once into its pooled C5 features; these are standardised with the labelled
 * subset's per-channel mean and variance (a BatchNorm without affine parameters, folded), so that the probe measures
 * the features and not their scale (a random init's features have an arbitrary scale in eval mode: on one random
 * width-16 ResNet-18, 60 AdamW steps left the backbone's own unnormalised head at 22-48% over three learning rates,
 * the standardised probe at 61-71%). The linear classifier on them is trained to convergence: an L2-penalised
 * multinomial logistic regression, its penalty chosen by 3-fold cross-validation on the labelled images, solved by
 * L-BFGS until the largest entry of the objective's gradient is at most 1e-5 ({@link SoftmaxRegression}); a probe
 * that stops at {@code steps} iterations first says so in a warning. The probe uses no augmentation and leaves the
 * backbone module, its own head included, untouched.
 *
 * <p>Fine-tuning replaces the module's head by one with the dataset's class count and trains all parameters
 * with AdamW, warm-up + cosine schedule and random horizontal flips (the paper's recipe), in train mode.
 *
 * <p>Reproducibility: the labelled subset ({@link Splits#balancedSubset}, nested across fractions for one
 * seed), the batch order and flips, the new head's initialisation and libtorch's generator (re-seeded every
 * step, for stochastic layers such as drop path) are all functions of the seed, so one seed gives one
 * accuracy, bit for bit, for a given machine and libtorch thread count.
 */
public final class Classifier {
    private static final System.Logger LOG = System.getLogger(Classifier.class.getName());
    /** Fixed, not the run's seed: every run scores on the same test images. */
    private static final long TEST_SUBSET_SEED = 20_231_123L;

    private Classifier() {}

    /**
     * Hyper-parameters of one run.
     *
     * @param mode           probe or fine-tune
     * @param labelFraction  fraction of the training labels used, in (0, 1]: 1 takes every labelled image, less
     *                       takes a balanced subset (the same count per class)
     * @param steps          optimiser steps; when 0, {@code epochs} passes over the labelled subset instead. The probe
     *                       uses them as the cap on its solver's iterations
     * @param epochs         passes over the labelled subset, used only when {@code steps} is 0
     * @param batchSize      images per step (capped at the subset's size; the last partial batch is dropped); the probe
     *                       is full-batch and does not use it
     * @param lr             peak learning rate (AdamW); the probe does not use it
     * @param weightDecay    AdamW's decoupled weight decay; for the probe, the L2 penalty of its logistic regression,
     *                       0 to choose it by cross-validation
     * @param warmupFraction share of the steps spent warming the learning rate up linearly, then cosine decay to
     *                       1% of the peak
     * @param flip           random horizontal flips of the training images when fine-tuning (the paper's only
     *                       augmentation); the probe trains on features computed once, without augmentation
     * @param seed           selects the labelled subset, the order, the flips and the head's initial weights
     * @param evalBatchSize  images per forward when measuring test accuracy or computing probe features
     */
    public record Settings(Mode mode, double labelFraction, int steps, int epochs, int batchSize, double lr, double weightDecay,
            double warmupFraction, boolean flip, long seed, int evalBatchSize) {
        public Settings {
            checkSettings(mode != null, "mode is null");
            checkSettings(labelFraction > 0 && labelFraction <= 1, "label fraction must be in (0, 1], got " + labelFraction);
            checkSettings(steps >= 0 && epochs >= 0 && (steps > 0 || epochs > 0), "give steps > 0 or epochs > 0 (got " + steps + ", " + epochs + ")");
            checkSettings(batchSize > 0, "batch size must be > 0, got " + batchSize);
            checkSettings(lr > 0 && Double.isFinite(lr), "learning rate must be finite and > 0, got " + lr);
            checkSettings(weightDecay >= 0 && Double.isFinite(weightDecay), "weight decay must be finite and >= 0, got " + weightDecay);
            checkSettings(warmupFraction >= 0 && warmupFraction <= 1, "warm-up fraction must be in [0, 1], got " + warmupFraction);
            checkSettings(evalBatchSize > 0, "eval batch size must be > 0, got " + evalBatchSize);
        }

        /**
         * Defaults per mode: the probe solves its logistic regression in at most 1,000 L-BFGS iterations with a
         * cross-validated penalty (on standardised features it converges in far fewer); fine-tuning takes 500 steps
         * of batch 64 at lr 1e-3, 5% warm-up, weight decay 0.05, with flips (AdamW, as the paper does on its
         * smaller datasets).
         */
        public static Settings defaults(Mode mode) {
            return mode == Mode.LINEAR_PROBE
                    ? new Settings(mode, 1.0, 1000, 0, 64, 1e-2, 0.0, 0.05, true, 0, 256)
                    : new Settings(mode, 1.0, 500, 0, 64, 1e-3, 0.05, 0.05, true, 0, 256);
        }

        public Settings withLabelFraction(double f) {
            return new Settings(mode, f, steps, epochs, batchSize, lr, weightDecay, warmupFraction, flip, seed, evalBatchSize);
        }

        public Settings withSeed(long s) {
            return new Settings(mode, labelFraction, steps, epochs, batchSize, lr, weightDecay, warmupFraction, flip, s, evalBatchSize);
        }

        /** A fixed number of steps (epochs ignored). */
        public Settings withSteps(int n) {
            return new Settings(mode, labelFraction, n, epochs, batchSize, lr, weightDecay, warmupFraction, flip, seed, evalBatchSize);
        }

        /** A number of epochs over the labelled subset (steps set to 0). */
        public Settings withEpochs(int n) {
            return new Settings(mode, labelFraction, 0, n, batchSize, lr, weightDecay, warmupFraction, flip, seed, evalBatchSize);
        }

        public Settings withBatchSize(int b) {
            return new Settings(mode, labelFraction, steps, epochs, b, lr, weightDecay, warmupFraction, flip, seed, evalBatchSize);
        }

        public Settings withLr(double r) {
            return new Settings(mode, labelFraction, steps, epochs, batchSize, r, weightDecay, warmupFraction, flip, seed, evalBatchSize);
        }

        /** AdamW's weight decay when fine-tuning; the L2 penalty of the probe's classifier (0: cross-validated). */
        public Settings withWeightDecay(double w) {
            return new Settings(mode, labelFraction, steps, epochs, batchSize, lr, w, warmupFraction, flip, seed, evalBatchSize);
        }

        public Settings withMode(Mode v) {
            return new Settings(v, labelFraction, steps, epochs, batchSize, lr, weightDecay, warmupFraction, flip, seed, evalBatchSize);
        }

        public Settings withWarmupFraction(double v) {
            return new Settings(mode, labelFraction, steps, epochs, batchSize, lr, weightDecay, v, flip, seed, evalBatchSize);
        }

        public Settings withFlip(boolean v) {
            return new Settings(mode, labelFraction, steps, epochs, batchSize, lr, weightDecay, warmupFraction, v, seed, evalBatchSize);
        }

        public Settings withEvalBatchSize(int v) {
            return new Settings(mode, labelFraction, steps, epochs, batchSize, lr, weightDecay, warmupFraction, flip, seed, v);
        }
    }

    /**
     * What one run measured.
     *
     * @param accuracy     top-1 accuracy on the test set, in [0, 1]
     * @param trainSamples labelled images trained on
     * @param testSamples  images the accuracy is measured on
     * @param steps        optimiser steps taken
     * @param batchSize    images per step actually used
     * @param finalLoss    mean training cross entropy over the last 10 steps (fewer if the run had fewer)
     * @param seconds      wall time of training plus evaluation
     */
    public record Result(Mode mode, double labelFraction, long seed, double accuracy, int trainSamples, int testSamples, int steps,
            int batchSize, double finalLoss, double seconds) {}

    /**
     * A balanced subset of about {@code n} images of {@code test} ({@code n / classes} per class, at least one),
     * the same for every run and every seed, so that scores on it compare; the whole split when {@code n} is at
     * least its size.
     */
    public static ImageDataset testSubset(ImageDataset test, int n) {
        if (n >= test.size()) return test;
        int perClass = Math.max(1, n / test.numClasses());
        return test.subset(Splits.balancedSubsetPerClass(test.labels(), test.numClasses(), perClass, TEST_SUBSET_SEED));
    }

    /**
     * Opens a fresh backbone from {@code source} (a random init is seeded from the run's seed, so the random
     * baseline varies over seeds as the label subsets do), runs, and closes it.
     */
    public static Result run(BackboneSource source, ImageDataset train, ImageDataset test, Settings s) throws IOException {
        return run(source, train, test, s, null);
    }

    /** Receives the module a run trained, before it is closed: to save a fine-tuned classifier, for instance. */
    @FunctionalInterface
    public interface Trained {
        void accept(ConfiguredModule model, Result result) throws IOException;
    }

    /** As {@link #run(BackboneSource, ImageDataset, ImageDataset, Settings)}, handing the trained module to {@code trained} (may be null). */
    public static Result run(BackboneSource source, ImageDataset train, ImageDataset test, Settings s, Trained trained) throws IOException {
        try (ConfiguredModule m = source.open(SeededRandom.mix(s.seed(), SeedStreams.BACKBONE_INIT))) {
            Result r = run(m, train, test, s);
            if (trained != null) trained.accept(m, r);
            return r;
        }
    }

    /**
     * Trains and evaluates on {@code backbone}. Fine-tuning works in place: the module's head is replaced by one
     * with the dataset's class count and trained together with the features, and the module is left in eval
     * mode, ready to be evaluated again or saved. A linear probe leaves the module unchanged (see
     * {@link Mode#LINEAR_PROBE} and the class comment).
     */
    public static Result run(ConfiguredModule backbone, ImageDataset train, ImageDataset test, Settings s) {
        TorchRuntime.init();
        Backbone b = EvalSupport.backbone(backbone);
        checkData(b, train, "train");
        checkData(b, test, "test");
        if (test.numClasses() != train.numClasses())
            throw new IllegalArgumentException("train has " + train.numClasses() + " classes, test has " + test.numClasses());
        if (test.size() == 0) throw new IllegalArgumentException("the test set is empty");
        long t0 = System.nanoTime();
        int[] subset = Splits.balancedSubset(train.labels(), train.numClasses(), s.labelFraction(), s.seed());
        int batchSize = Math.min(s.batchSize(), subset.length);
        int steps = s.steps() > 0 ? s.steps() : Math.multiplyExact(s.epochs(), subset.length / batchSize);
        String task = s.mode().label() + " " + percent(s.labelFraction()) + " s" + s.seed();
        return s.mode() == Mode.LINEAR_PROBE
                ? probe(backbone, b, train, test, subset, batchSize, steps, s, task, t0)
                : fineTune(backbone, b, train, test, subset, batchSize, steps, s, task, t0);
    }

    private static Result fineTune(ConfiguredModule backbone, Backbone b, ImageDataset train, ImageDataset test, int[] subset, int batchSize,
            int steps, Settings s, String task, long t0) {
        Batches batches = Batches.of(train).indices(subset).batchSize(batchSize).seed(s.seed()).dropLast(true)
                .augmentation(s.flip() ? Augmentation.flip() : Augmentation.NONE).build();
        torch.manual_seed(SeededRandom.mix(s.seed(), SeedStreams.HEAD_INIT));
        b.resetHead(train.numClasses());
        b.freezeBackbone(false);
        backbone.train(true);
        double[] recent = new double[10];
        TrainingLoop loop = EvalSupport.crossEntropyLoop(backbone.parameters(), s.lr(), s.weightDecay(), s.warmupFraction(), steps, batches,
                batch -> b.classify(batch.images()), s.seed(), task, recent, backbone::eval).build();
        try {
            loop.run();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // not reached: this loop writes no files
        }
        double accuracy = accuracy(backbone, test, s.evalBatchSize());
        return new Result(s.mode(), s.labelFraction(), s.seed(), accuracy, subset.length, test.size(), steps, batchSize,
                EvalSupport.tailMean(recent, steps), (System.nanoTime() - t0) / 1e9);
    }

    private static Result probe(ConfiguredModule backbone, Backbone b, ImageDataset train, ImageDataset test, int[] subset, int batchSize,
            int steps, Settings s, String task, long t0) {
        Tensor trainF = null, testF = null, trainY = null, testY = null;
        try {
            trainF = pooledFeatures(backbone, train, subset, s.evalBatchSize(), "features train");
            testF = pooledFeatures(backbone, test, test.allIndices(), s.evalBatchSize(), "features test");
            trainY = train.labelsTensor(subset);
            testY = test.labelsTensor(test.allIndices());
            try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                Tensor mean = trainF.mean(0);
                Tensor std = trainF.sub(mean).square().mean(0).add(new Scalar(1e-5)).sqrt();
                trainF.sub_(mean).div_(std);
                testF.sub_(mean).div_(std);
            }
            try (PointerScope scope = new PointerScope()) {
                Tensor x = trainF.to(ScalarType.Double);
                int classes = train.numClasses();
                double lambda = s.weightDecay() > 0 ? s.weightDecay() : SoftmaxRegression.chooseLambda(x, trainY, classes, steps, s.seed());
                try (SoftmaxRegression.Fit fit = SoftmaxRegression.fit(x, trainY, classes, lambda, steps, null)) {
                    if (fit.converged()) LOG.log(System.Logger.Level.DEBUG, task + ": " + fit.describe());
                    else LOG.log(System.Logger.Level.WARNING, task + ": " + fit.describe() + "; raise --steps for a converged probe");
                    long correct = fit.logits(testF.to(ScalarType.Double)).argmax(new LongOptional(1), false).eq(testY).sum().item_long();
                    return new Result(s.mode(), s.labelFraction(), s.seed(), (double) correct / test.size(), subset.length, test.size(),
                            fit.iterations(), subset.length, fit.objective(), (System.nanoTime() - t0) / 1e9);
                }
            }
        } finally {
            for (org.bytedeco.javacpp.Pointer p : new org.bytedeco.javacpp.Pointer[] {trainF, testF, trainY, testY})
                if (p != null) p.close();
        }
    }

    /**
     * Global-average-pooled C5 features (N, C) of the images at {@code indices}, computed in eval mode without
     * gradients, {@code batchSize} images per forward. The caller owns (and closes) the tensor. The batches go
     * through {@link FeatureEmbedding#forEachBatch}, so {@code embed} writes exactly these features.
     */
    public static Tensor pooledFeatures(ConfiguredModule backbone, ImageDataset data, int[] indices, int batchSize, String progressLabel) {
        Backbone b = EvalSupport.backbone(backbone);
        TorchRuntime.init();
        // Allocated before the per-batch scopes so that they do not free it.
        Tensor out = torch.zeros(indices.length, b.featureChannels()[3]);
        try {
            FeatureEmbedding.forEachBatch(backbone, data, indices, batchSize, FeatureEmbedding.Level.C5, progressLabel,
                    (from, rows) -> out.narrow(0, from, rows.size(0)).copy_(rows));
        } catch (IOException e) {
            out.close();
            throw new java.io.UncheckedIOException(e); // not reached: the sink above does no I/O
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /**
     * Top-1 accuracy of {@code backbone}'s head on a labelled dataset, in eval mode without gradients, in batches
     * of {@code batchSize}. Leaves the module in eval mode.
     */
    public static double accuracy(ConfiguredModule backbone, ImageDataset data, int batchSize) {
        TorchRuntime.init();
        Backbone b = EvalSupport.backbone(backbone);
        checkData(b, data, "evaluation");
        if (b.numClasses() != data.numClasses())
            throw new IllegalArgumentException("the head has " + b.numClasses() + " classes, the data " + data.numClasses());
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be > 0, got " + batchSize);
        int n = data.size();
        if (n == 0) throw new IllegalArgumentException("no images to evaluate on");
        backbone.eval();
        long correct = 0;
        int batchesTotal = (n + batchSize - 1) / batchSize;
        try (Progress bar = Progress.start("test", batchesTotal, 0, "batch")) {
            for (int from = 0; from < n; from += batchSize) {
                int[] idx = new int[Math.min(batchSize, n - from)];
                for (int j = 0; j < idx.length; j++) idx[j] = from + j;
                try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                    Tensor pred = b.classify(data.toTensor(idx)).argmax(new LongOptional(1), false);
                    correct += pred.eq(data.labelsTensor(idx)).sum().item_long();
                }
                bar.step(null);
            }
        }
        return (double) correct / n;
    }

    private static void checkData(Backbone b, ImageDataset d, String what) {
        if (d == null) throw new IllegalArgumentException(what + " data is null");
        if (!d.hasLabels()) throw new IllegalArgumentException(what + " data has no labels");
        if (d.channels() != b.inChannels())
            throw new IllegalArgumentException(what + " images have " + d.channels() + " channels, the backbone expects " + b.inChannels());
    }

    static String percent(double fraction) {
        double p = fraction * 100;
        return (p == Math.rint(p) ? Long.toString(Math.round(p)) : Double.toString(p)) + "%";
    }
}
