package org.dreamteacher.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.FashionScenes;
import org.dreamteacher.data.LabelledScenes;
import org.dreamteacher.eval.BackboneSource;
import org.dreamteacher.eval.LabelEfficiencyStudy;
import org.dreamteacher.eval.Mode;
import org.dreamteacher.eval.SegmentationFineTune;
import org.dreamteacher.torch.TorchRuntime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Semantic segmentation of Fashion-MNIST scenes with few labelled scenes, scored by mIoU. */
@Command(name = "segment", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Segment Fashion-MNIST scenes with a backbone and a few labelled scenes; report the mIoU.",
            "A segmentation head (and, with --mode finetune, the backbone) trains on labelled scenes (canvases with 1-4",
            "items, 11 classes: background + 10 items) and is scored on test scenes.",
            "Writes segmentation.json, .md, .png and overlay pictures into --out."})
final class SegmentCommand extends CliCommand {
    @Mixin
    BackboneOptions backbone;

    @Option(names = "--mode", paramLabel = "MODE", defaultValue = "finetune", description = "finetune (everything trains) or probe (backbone frozen) (default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--scenes", paramLabel = "N,...", split = ",", defaultValue = "100", description = "Labelled train scenes; several give a curve, e.g. 50,200,1000 (default: ${DEFAULT-VALUE}).")
    List<Integer> scenes;

    @Option(names = "--labelled", paramLabel = "FILE", description = {"The labelled scenes of a label-guided pretraining (its run "
            + "folder's labelled-scenes.json, written by distill --label-guided --scenes): trains on exactly those scenes, with that run's "
            + "seed. Fixes --scenes and --seeds."})
    Path labelled;

    @Option(names = "--test-scenes", paramLabel = "N", defaultValue = "200", description = "Test scenes (default: ${DEFAULT-VALUE}).")
    int testScenes;

    @Option(names = "--scene-size", paramLabel = "PX", defaultValue = "64", description = "Canvas size (default: ${DEFAULT-VALUE}).")
    int sceneSize;

    @Option(names = "--seeds", paramLabel = "N", defaultValue = "1", description = "Repeat with seeds 0..N-1 and report mean ± std (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--steps", paramLabel = "N", description = "Optimiser steps (default: 500).")
    Integer steps;

    @Option(names = "--batch", paramLabel = "N", description = "Scenes per step (default: 16).")
    Integer batch;

    @Option(names = "--lr", paramLabel = "RATE", description = "Peak learning rate of AdamW (default: 0.001 for finetune, 0.005 for probe).")
    Double lr;

    @Option(names = "--head-channels", paramLabel = "N", description = "Width of the segmentation head (default: 64).")
    Integer headChannels;

    @Mixin
    DataOptions data;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/segment", description = "Where the results go (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    int execute() throws Exception {
        Mode m;
        try {
            m = Mode.parse(mode);
        } catch (IllegalArgumentException e) {
            throw usage("--mode must be finetune or probe, got '" + mode + "'");
        }
        for (int n : scenes) requirePositive(n, "--scenes");
        requirePositive(testScenes, "--test-scenes");
        if (sceneSize < 28 || sceneSize > 512) throw usage("--scene-size must be in 28..512 (items are 28 px), got " + sceneSize);
        if (seeds < 1) throw usage("--seeds must be >= 1, got " + seeds);
        if (steps != null) requirePositive(steps, "--steps");
        if (batch != null) requirePositive(batch, "--batch");
        if (lr != null) requirePositive(lr, "--lr");
        if (headChannels != null) requirePositive(headChannels, "--head-channels");
        TorchRuntime.init();
        FashionMnist fm = data.fashionMnist();
        List<BackboneSource> sources = backbone.sources(1, sceneSize);

        SegmentationFineTune.Settings s = SegmentationFineTune.Settings.defaults(m);
        if (steps != null) s = s.withSteps(steps);
        if (batch != null) s = s.withBatchSize(batch);
        if (lr != null) s = s.withLr(lr);
        if (headChannels != null) s = s.withHeadChannels(headChannels);
        List<Long> seedList = new ArrayList<>();
        for (long i = 0; i < seeds; i++) seedList.add(i);
        FashionScenes.Options options = new FashionScenes.Options(sceneSize, 1, 4, FashionScenes.Options.DEFAULT.threshold());
        Map<String, String> meta = new java.util.LinkedHashMap<>();
        meta.put("command", "dreamteacher segment");
        LabelledScenes labelledScenes = labelledScenes(fm, options);
        if (labelledScenes != null) {
            scenes = List.of(labelledScenes.count());
            seedList = List.of(labelledScenes.seed());
            meta.put("labelled", labelled.toAbsolutePath().normalize() + ": " + labelledScenes);
        }

        out().printf(Locale.ROOT, "segment (%s): %s%n", m.label(), backbone.describe(sources));
        backbone.printInit(out());
        out().printf(Locale.ROOT, "  %dx%d scenes of %s items; train scenes %s, %d test scenes; seeds %s; %d steps, batch %d, lr %s%n", sceneSize,
                sceneSize, data.describe(), scenes, testScenes, labelledScenes != null ? Long.toString(labelledScenes.seed()) : seeds == 1 ? "0" : "0.." + (seeds - 1),
                s.steps(), s.batchSize(), num(s.lr()));
        if (labelledScenes != null) out().printf(Locale.ROOT, "  labelled scenes: %s (%s)%n", labelledScenes, labelled);
        out().flush();
        LabelEfficiencyStudy.Report report = new LabelEfficiencyStudy(sources, out, meta)
                .segmentation(fm.train(), fm.test(), new LabelEfficiencyStudy.SegmentationPlan(scenes, seedList, List.of(s), options, testScenes, 1));
        out().printf(Locale.ROOT, "  %-12s %8s  %s%n", "init", "scenes", "test mIoU" + (seeds > 1 ? " (mean ± std over " + seeds + " seeds)" : ""));
        for (LabelEfficiencyStudy.Cell c : report.cells()) {
            String v = seeds > 1 ? String.format(Locale.ROOT, "%.2f ± %.2f %%", 100 * c.mean(), 100 * c.std())
                    : String.format(Locale.ROOT, "%.2f %%", 100 * c.mean());
            out().printf(Locale.ROOT, "  %-12s %8d  %s%n", c.init(), Math.round(c.x()), v);
        }
        out().printf(Locale.ROOT, "results: %s, %s, %s (%.1f s)%n", report.json(), report.markdown(), report.plot(), report.seconds());
        return 0;
    }

    /**
     * The labelled scenes of {@code --labelled}, checked against these items and scene options (null without the
     * option): the study then renders the file's scenes with its seed.
     */
    private LabelledScenes labelledScenes(FashionMnist fm, FashionScenes.Options options) throws java.io.IOException {
        if (labelled == null) return null;
        if (!java.nio.file.Files.isRegularFile(labelled)) throw usage("--labelled " + labelled + ": no such file");
        if (seeds != 1) throw usage("--labelled fixes the seed and the labelled scenes: drop --seeds (pretrain once per seed instead)");
        if (spec.commandLine().getParseResult().hasMatchedOption("--scenes")) throw usage("--labelled fixes the labelled scenes: drop --scenes");
        LabelledScenes l = LabelledScenes.read(labelled);
        if (!l.matches(fm.train(), options, SegmentationFineTune.trainScenes(fm.train(), options, l.count(), l.seed()))) {
            throw usage("--labelled " + labelled + " lists " + l + ", which " + data.describe() + " (" + fm.train().size()
                    + " training items) with " + sceneSize + " px scenes does not give: evaluate on the data and scene size the pretraining used");
        }
        return l;
    }
}
