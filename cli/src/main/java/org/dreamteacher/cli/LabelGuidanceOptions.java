package org.dreamteacher.cli;

import org.dreamteacher.data.Augmentation;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.LabelledSubset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SegmentationDataset;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.distill.LabelGuidance;
import picocli.CommandLine.Option;

/** The options of label-guided distillation (distill --label-guided). */
final class LabelGuidanceOptions {

    @Option(names = "--label-guided", description = {"Label-guided distillation: an interpreter learns the labels of a few images on the "
            + "teacher's features, and the backbone's task head learns its softened predictions on every image (loss: features + "
            + "lambda_ld x soft-target cross entropy). Classification on images; segmentation with --scenes."})
    boolean enabled;

    @Option(names = "--labels", paramLabel = "PERCENT", defaultValue = "1",
            description = "With --label-guided on images: percent of the training images whose labels are used, balanced per class (default: ${DEFAULT-VALUE}).")
    double percent;

    @Option(names = "--labelled-scenes", paramLabel = "N", defaultValue = "100",
            description = "With --label-guided and --scenes: how many of the scenes are labelled (default: ${DEFAULT-VALUE}).")
    int labelledScenes;

    @Option(names = "--lambda-ld", paramLabel = "L", defaultValue = "1", description = "With --label-guided: weight of the label term (default: ${DEFAULT-VALUE}).")
    float lambdaLd;

    // Defaults measured on Fashion-MNIST (results/fashion-mnist.md): the paper's tau = 4 with 200 interpreter steps
    // gave a weak, nearly uniform target and no gain over unsupervised distillation; tau = 1 with 1000 steps did.
    @Option(names = "--tau", paramLabel = "T", defaultValue = "1", description = "With --label-guided: softening temperature (default: ${DEFAULT-VALUE}; the paper: 4).")
    float tau;

    @Option(names = "--interpreter-steps", paramLabel = "N", defaultValue = "1000",
            description = "With --label-guided: training steps of the interpreter (default: ${DEFAULT-VALUE}).")
    int interpreterSteps;

    /** The labelled images of the last {@link #guidance} on images (null on scenes or without guidance). */
    LabelledSubset subset;

    /**
     * The label guidance of a run: on {@code scenes} (segmentation, the first {@code --labelled-scenes} labelled)
     * when given, else on {@code images} (classification, a balanced {@code --labels} percent drawn with the run's
     * seed as probe and finetune draw theirs, kept in {@link #subset}), or null when {@code --label-guided} is off. Checks the options through {@code command}'s usage errors; {@code worldSize}
     * ranks must split the interpreter's batch evenly.
     */
    LabelGuidance guidance(CliCommand command, ImageDataset images, String dataName, SegmentationDataset scenes, long seed,
            int worldSize) {
        subset = null;
        if (!enabled) return null;
        command.requirePositive(lambdaLd, "--lambda-ld");
        command.requirePositive(tau, "--tau");
        command.requirePositive(interpreterSteps, "--interpreter-steps");
        LabelGuidance.Settings d = LabelGuidance.Settings.defaults();
        Batches.Builder labelled;
        LabelGuidance.Task task;
        int numClasses;
        int[] idx;
        if (scenes != null) {
            command.requirePositive(labelledScenes, "--labelled-scenes");
            if (labelledScenes > scenes.size())
                throw command.usage("--labelled-scenes " + labelledScenes + " is more than the " + scenes.size() + " scenes");
            idx = new int[labelledScenes];
            for (int i = 0; i < idx.length; i++) idx[i] = i;
            labelled = Batches.of(scenes);
            task = LabelGuidance.Task.SEGMENTATION;
            numClasses = scenes.numClasses();
        } else {
            if (!images.hasLabels()) throw command.usage("--label-guided needs labelled images (Fashion-MNIST), not an unlabelled folder");
            if (!(percent > 0 && percent <= 100)) throw command.usage("--labels must be a percentage in (0, 100], got " + percent);
            // the evaluation's own draw (probe, finetune --labels with the same seed): one subset for both
            subset = LabelledSubset.draw(dataName, images, percent, seed);
            idx = subset.indices();
            labelled = Batches.of(images);
            task = LabelGuidance.Task.CLASSIFICATION;
            numClasses = images.numClasses();
        }
        int batch = Math.min(d.interpreterBatch(), idx.length);
        if (batch % worldSize != 0)
            throw command.usage("the interpreter's batch of " + batch + " labelled " + (scenes != null ? "scenes" : "images") + " does not split evenly over "
                    + worldSize + " ranks: label more, or use a world size that divides " + batch);
        // dropLast: every step a full batch, which data-parallel ranks split into equal shares
        Batches batches = labelled.indices(idx).batchSize(batch).seed(SeededRandom.mix(seed, SeedStreams.LABELLED_BATCHES)).dropLast(true)
                .augmentation(Augmentation.flip()).build();
        LabelGuidance.Settings settings = LabelGuidance.Settings.defaults().withLambdaLd(lambdaLd).withTemperature(tau)
                .withInterpreterSteps(interpreterSteps);
        return new LabelGuidance(task, numClasses, batches, settings);
    }
}
