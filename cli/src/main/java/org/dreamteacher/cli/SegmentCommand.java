package org.dreamteacher.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.FashionScenes;
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

        out().printf(Locale.ROOT, "segment (%s): %s%n", m.label(), backbone.describe(sources));
        backbone.printInit(out());
        out().printf(Locale.ROOT, "  %dx%d scenes of %s items; train scenes %s, %d test scenes; seeds %s; %d steps, batch %d, lr %s%n", sceneSize,
                sceneSize, data.describe(), scenes, testScenes, seeds == 1 ? "0" : "0.." + (seeds - 1), s.steps(), s.batchSize(), num(s.lr()));
        out().flush();
        LabelEfficiencyStudy.Report report = new LabelEfficiencyStudy(sources, out, Map.of("command", "dreamteacher segment"))
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
}
