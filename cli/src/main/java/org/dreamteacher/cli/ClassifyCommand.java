package org.dreamteacher.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.LabelledSubset;
import org.dreamteacher.eval.BackboneSource;
import org.dreamteacher.eval.Classifier;
import org.dreamteacher.eval.LabelEfficiencyStudy;
import org.dreamteacher.eval.Mode;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.torch.TorchRuntime;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Label-efficient classification of Fashion-MNIST with a backbone: a linear probe ({@code probe}) or full
 * fine-tuning ({@code finetune}) on a balanced share of the labels, scored on the test split.
 */
abstract class ClassifyCommand extends CliCommand {
    @Mixin
    BackboneOptions backbone;

    @Option(names = "--labels", paramLabel = "PERCENT", split = ",", defaultValue = "1",
            description = "Share of the training labels, in percent; several give a label-efficiency curve, e.g. 1,10,100 (default: ${DEFAULT-VALUE}).")
    List<Double> labels;

    @Option(names = "--seeds", paramLabel = "N", defaultValue = "1", description = "Repeat with seeds 0..N-1 (labelled subset, order, head) and report mean ± std (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--labelled", paramLabel = "FILE", description = {"The labelled images of a label-guided pretraining (its run folder's "
            + "labelled.json): evaluate with exactly those images, that share and that seed, instead of --labels and --seeds. "
            + "For several seeds, pretrain once per seed (one labelled subset each) and evaluate each with its own file."})
    Path labelled;

    @Option(names = "--steps", paramLabel = "N", description = "Optimiser steps for finetune (default: 500); for probe, the cap on its solver's iterations (default: 1000).")
    Integer steps;

    @Option(names = "--epochs", paramLabel = "N", description = "Passes over the labelled images instead of --steps.")
    Integer epochs;

    @Option(names = "--batch", paramLabel = "N", description = "Batch size for finetune (default: 64, at most the labelled images); the probe is full-batch.")
    Integer batch;

    @Option(names = "--lr", paramLabel = "RATE", description = "Peak learning rate of AdamW for finetune (default: 0.001); the probe has none.")
    Double lr;

    @Option(names = "--l2", paramLabel = "LAMBDA", description = {"probe: the L2 penalty of the linear classifier (default: chosen by 3-fold "
            + "cross-validation on the labelled images among 0.1, 0.01, 0.001 and 0.0001). The probe is solved by L-BFGS until the "
            + "largest entry of the gradient is at most 1e-5."})
    Double l2;

    @Option(names = "--test-images", paramLabel = "N", description = "Score on a balanced N-image subset of the test split (default: all of it).")
    Integer testImages;

    @Mixin
    DataOptions data;

    @Option(names = "--out", paramLabel = "DIR", description = "Where the results go: classification.json, .md and .png (default: runs/<command>).")
    Path out;

    abstract Mode mode();

    /** Where to save the trained classifier, or null (only finetune trains one). */
    Path saveModel() {
        return null;
    }

    @Override
    int execute() throws Exception {
        if (seeds < 1) throw usage("--seeds must be >= 1, got " + seeds);
        for (double l : labels) if (!(l > 0 && l <= 100)) throw usage("--labels must be percentages in (0, 100], got " + num(l));
        if (steps != null && epochs != null) throw usage("give --steps or --epochs, not both");
        if (steps != null) requirePositive(steps, "--steps");
        if (epochs != null) requirePositive(epochs, "--epochs");
        if (batch != null) requirePositive(batch, "--batch");
        if (lr != null) requirePositive(lr, "--lr");
        if (l2 != null) requirePositive(l2, "--l2");
        if (mode() == Mode.LINEAR_PROBE && (lr != null || batch != null || epochs != null))
            throw usage("the probe is solved full-batch to convergence: --lr, --batch and --epochs are for finetune (--steps caps its iterations)");
        if (mode() != Mode.LINEAR_PROBE && l2 != null) throw usage("--l2 is for probe; finetune's AdamW uses a weight decay of 0.05");
        if (testImages != null) requirePositive(testImages, "--test-images");
        Path saveModel = saveModel();
        if (saveModel != null) {
            if (labels.size() != 1 || seeds != 1 || backbone.compareRandom)
                throw usage("--save-model saves one fine-tuned model: give one --labels share, one seed and no --compare-random");
            if (Files.isDirectory(saveModel)) throw usage("--save-model: " + saveModel + " is a folder; give a file name, e.g. classifier.dtt");
        }
        TorchRuntime.init();
        FashionMnist fm = data.fashionMnist();
        ImageDataset train = fm.train(), test = testImages == null ? fm.test() : Classifier.testSubset(fm.test(), testImages);
        LabelledSubset subset = labelledSubset(train);
        List<BackboneSource> sources = backbone.sources(train.channels(), train.height());

        Classifier.Settings s = Classifier.Settings.defaults(mode());
        if (steps != null) s = s.withSteps(steps);
        if (epochs != null) s = s.withEpochs(epochs);
        if (batch != null) s = s.withBatchSize(batch);
        if (lr != null) s = s.withLr(lr);
        if (l2 != null) s = s.withWeightDecay(l2);
        List<Double> fractions = new ArrayList<>();
        List<Long> seedList = new ArrayList<>();
        if (subset != null) {
            fractions.add(subset.percent() / 100);
            seedList.add(subset.seed());
        } else {
            for (double l : labels) fractions.add(l / 100);
            for (long i = 0; i < seeds; i++) seedList.add(i);
        }
        Path dir = out != null ? out : Path.of("runs", spec.name());

        out().printf(Locale.ROOT, "%s: %s%n", spec.name(), backbone.describe(sources));
        backbone.printInit(out());
        String training = mode() == Mode.LINEAR_PROBE
                ? String.format(Locale.ROOT, "L-BFGS to max |gradient| <= 1e-5 in at most %d iterations, L2 penalty %s", s.steps(),
                        l2 != null ? num(l2) : "cross-validated")
                : String.format(Locale.ROOT, "%s, batch %d, lr %s", s.steps() > 0 ? s.steps() + " steps" : s.epochs() + " epochs",
                        s.batchSize(), num(s.lr()));
        out().printf(Locale.ROOT, "  %s: %d train, %d test images; labels %s%%; seeds %s; %s%n", data.describe(), train.size(),
                test.size(), subset != null ? num(subset.percent()) : joinNumbers(labels),
                subset != null ? Long.toString(subset.seed()) : seeds == 1 ? "0" : "0.." + (seeds - 1), training);
        java.util.Map<String, String> meta = new java.util.LinkedHashMap<>();
        meta.put("command", "dreamteacher " + spec.name());
        if (subset != null) {
            meta.put("labelled", labelled.toAbsolutePath().normalize() + ": " + subset);
            out().printf(Locale.ROOT, "  labelled images: %s (%s)%n", subset, labelled);
        }
        out().flush();
        LabelEfficiencyStudy.Report report = new LabelEfficiencyStudy(sources, dir, meta)
                .classification(train, test, new LabelEfficiencyStudy.ClassificationPlan(fractions, seedList, List.of(s)),
                        saveModel == null ? null : (model, result) -> {
                            Path parent = saveModel.toAbsolutePath().getParent();
                            if (parent != null) Files.createDirectories(parent);
                            Checkpoints.save(saveModel, model);
                        });
        out().printf(Locale.ROOT, "  %-12s %8s  %s%n", "init", "labels", "test accuracy" + (seeds > 1 ? " (mean ± std over " + seeds + " seeds)" : ""));
        for (LabelEfficiencyStudy.Cell c : report.cells()) {
            String acc = seeds > 1 ? String.format(Locale.ROOT, "%.2f ± %.2f %%", 100 * c.mean(), 100 * c.std())
                    : String.format(Locale.ROOT, "%.2f %%", 100 * c.mean());
            out().printf(Locale.ROOT, "  %-12s %7s%%  %s%n", c.init(), num(100 * c.x()), acc);
        }
        out().printf(Locale.ROOT, "results: %s, %s, %s (%.1f s)%n", report.json(), report.markdown(), report.plot(), report.seconds());
        if (saveModel != null) out().printf(Locale.ROOT, "fine-tuned model: %s%n", saveModel);
        return 0;
    }

    /**
     * The labelled subset of {@code --labelled}, checked against this data (null without the option): the
     * evaluation draws its labelled images with the file's share and seed, which must give exactly the file's
     * images.
     */
    private LabelledSubset labelledSubset(ImageDataset train) throws java.io.IOException {
        if (labelled == null) return null;
        if (!java.nio.file.Files.isRegularFile(labelled)) throw usage("--labelled " + labelled + ": no such file");
        if (seeds != 1) throw usage("--labelled fixes the seed and the labelled images: drop --seeds (pretrain once per seed instead)");
        if (spec.commandLine().getParseResult().hasMatchedOption("--labels"))
            throw usage("--labelled fixes the share of the labels: drop --labels");
        LabelledSubset s = LabelledSubset.read(labelled);
        if (!s.matches(train)) {
            throw usage("--labelled " + labelled + " lists " + s + ", which this data (" + data.describe() + ", " + train.size()
                    + " training images) does not give: evaluate on the data the pretraining used");
        }
        return s;
    }


    static String joinNumbers(List<Double> values) {
        List<String> s = new ArrayList<>();
        for (double v : values) s.add(num(v));
        return String.join(", ", s);
    }
}
