package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.assertPng;
import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.FashionScenes;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.LabelledScenes;
import org.dreamteacher.data.LabelledSubset;
import org.dreamteacher.data.SegmentationDataset;
import org.dreamteacher.eval.SegmentationFineTune;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.PixelInterpreter;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.nn.SegmentationHead;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** distill --label-guided, on images (classification) and on scenes (segmentation), on tiny settings. */
class CliLabelGuidedTest {
    @TempDir
    static Path dir;
    static Path teacher;

    @BeforeAll
    static void tinyTeacher() throws Exception {
        Progress.setEnabled(false);
        teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
    }

    private static String[] distill(Path out, String... more) {
        String[] common = {"distill", "--teacher", teacher.toString(), "--steps", "2", "--batch", "4", "--width", "8", "--regressor-channels", "16",
            "--interpreter-steps", "3", "--out", out.toString()};
        return CliCommandsTest.concat(common, more);
    }

    @Test
    void labelGuidedClassification() throws Exception {
        Path out = dir.resolve("guided");
        CliRun r = run(distill(out, "--label-guided", "--labels", "0.5")).expectSuccess();
        assertTrue(r.out().contains("label guidance: classification, 30 labelled images, tau = 1.0, lambda_ld = 1.0"), r.out());
        assertEquals(10, Checkpoints.load(out.resolve("backbone.dtt"), ResNet.class).numClasses(), "the distilled head is kept");
        assertEquals(10, Checkpoints.load(out.resolve("interpreter.dtt"), PixelInterpreter.class).config().numClasses());
        List<JsonNode> log = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertTrue(log.get(log.size() - 1).get("label_distill").asDouble() > 0, log.toString());
        assertTrue(Files.isRegularFile(out.resolve("interpreter-metrics.jsonl")));
        assertPng(out.resolve("loss-curve.png"));

        // The labelled images are recorded, and the evaluation with --labelled uses exactly them.
        LabelledSubset subset = LabelledSubset.read(out.resolve(LabelledSubset.FILE));
        assertEquals(30, subset.indices().length);
        assertEquals(0.5, subset.percent());
        CliRun probe = run("probe", "--random", "resnet18", "--width", "4", "--steps", "2", "--test-images", "20",
                "--labelled", out.resolve(LabelledSubset.FILE).toString(), "--out", dir.resolve("probe-labelled").toString())
                .expectSuccess();
        assertTrue(probe.out().contains("labels 0.5%; seeds 0"), probe.out());
        assertTrue(probe.out().contains("labelled images: 30 labelled images (0.5% of"), probe.out());
        JsonNode results = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                dir.resolve("probe-labelled/classification.json").toFile());
        assertTrue(results.toString().contains("30 labelled images"), results.toString());
        // The same images as the evaluation's own draw with that share and seed.
        assertTrue(subset.matches(org.dreamteacher.data.FashionMnist.embeddedSubset().train()));

        // A subset that this data does not give, or conflicting options, are refused.
        int[] other = subset.indices();
        other[0] = other[0] == 0 ? 1 : 0;
        Path forged = dir.resolve("forged-labelled.json");
        new LabelledSubset(subset.data(), subset.trainImages(), subset.percent(), subset.seed(), other).write(forged);
        run("probe", "--random", "resnet18", "--width", "4", "--steps", "2", "--labelled", forged.toString())
                .expectOneLineError(2, "does not give");
        run("probe", "--random", "resnet18", "--width", "4", "--steps", "2", "--seeds", "3", "--labelled",
                out.resolve(LabelledSubset.FILE).toString()).expectOneLineError(2, "drop --seeds");
    }

    @Test
    void labelGuidedSegmentationOnScenes() throws Exception {
        Path out = dir.resolve("guided-scenes");
        CliRun r = run(distill(out, "--scenes", "8", "--label-guided", "--labelled-scenes", "4")).expectSuccess();
        assertTrue(r.out().contains("label guidance: segmentation, 4 labelled images"), r.out());
        assertTrue(r.out().contains("8 images"), r.out());
        assertEquals(11, Checkpoints.load(out.resolve("seghead.dtt"), SegmentationHead.class).config().numClasses());

        // The labelled scenes are recorded; segment --labelled trains on exactly them, with the run's seed.
        Path file = out.resolve(LabelledScenes.FILE);
        LabelledScenes labelled = LabelledScenes.read(file);
        assertEquals(4, labelled.count());
        assertTrue(r.out().contains("labelled scenes: 4 labelled scenes (64 px, 1-4 items of"), r.out());
        ImageDataset items = FashionMnist.embeddedSubset().train();
        // The pretraining's first 4 scenes (of 8) are the segmentation study's 4 train scenes for that seed: same pixels, same
        // masks (segment --labelled checks the pixels against the fingerprint the pretraining recorded of its own scenes).
        SegmentationDataset pretraining = SegmentationFineTune.trainScenes(items, FashionScenes.Options.DEFAULT, 8, labelled.seed());
        SegmentationDataset evaluation = SegmentationFineTune.trainScenes(items, new FashionScenes.Options(64, 1, 4,
                FashionScenes.Options.DEFAULT.threshold()), 4, labelled.seed());
        assertEquals(evaluation.images().fingerprint(), pretraining.subset(new int[] {0, 1, 2, 3}).images().fingerprint(), "the scenes' pixels");
        for (int i = 0; i < 4; i++) assertArrayEquals(pretraining.labelMap(i), evaluation.labelMap(i), "mask " + i);
        Path segOut = dir.resolve("segment-labelled");
        CliRun seg = run("segment", "--random", "resnet18", "--width", "4", "--steps", "1", "--batch", "2", "--test-scenes", "4",
                "--labelled", file.toString(), "--out", segOut.toString()).expectSuccess();
        assertTrue(seg.out().contains("train scenes [4]") && seg.out().contains("seeds " + labelled.seed()), seg.out());
        JsonNode results = new com.fasterxml.jackson.databind.ObjectMapper().readTree(segOut.resolve("segmentation.json").toFile());
        assertTrue(results.toString().contains("4 labelled scenes"), results.toString());

        run("segment", "--random", "resnet18", "--width", "4", "--steps", "1", "--labelled", file.toString(), "--scene-size", "32")
                .expectOneLineError(2, "does not give");
        Path forged = dir.resolve("forged-scenes.json");
        new LabelledScenes(labelled.data(), labelled.trainImages(), labelled.options(), labelled.seed() + 1, labelled.count(),
                labelled.fingerprint()).write(forged);
        run("segment", "--random", "resnet18", "--width", "4", "--steps", "1", "--labelled", forged.toString())
                .expectOneLineError(2, "does not give");
        run("segment", "--random", "resnet18", "--width", "4", "--steps", "1", "--labelled", file.toString(), "--seeds", "2")
                .expectOneLineError(2, "drop --seeds");
        run("segment", "--random", "resnet18", "--width", "4", "--steps", "1", "--labelled", file.toString(), "--scenes", "4")
                .expectOneLineError(2, "drop --scenes");
    }

    @Test
    void labelGuidedOnTwoLocalWorkers() throws Exception {
        Path out = dir.resolve("guided-2");
        CliRun r = run(distill(out, "--label-guided", "--labels", "0.5", "--nproc", "2")).expectSuccess();
        assertTrue(r.out().contains("starting 2 workers"), r.out());
        assertTrue(Files.isRegularFile(out.resolve("interpreter.dtt")));
        assertTrue(Files.isRegularFile(out.resolve("backbone.dtt")));
        List<JsonNode> log = MetricsLog.read(out.resolve("interpreter-metrics.jsonl"));
        assertEquals(1, log.size(), "rank 0 alone logs the interpreter (one line, at its last step): " + log);
        assertEquals(3, log.get(0).get("step").asInt());
    }

    @Test
    void badLabelGuidanceOptions() {
        run(distill(dir.resolve("bad0"), "--scenes", "8", "--label-guided", "--labelled-scenes", "3", "--world-size", "2", "--rank", "0",
                "--master-port", "29511")).expectOneLineError(2, "does not split evenly over 2 ranks");
        run(distill(dir.resolve("bad1"), "--label-guided", "--labels", "0")).expectOneLineError(2, "--labels");
        run(distill(dir.resolve("bad2"), "--label-guided", "--labels", "101")).expectOneLineError(2, "--labels");
        run(distill(dir.resolve("bad3"), "--scenes", "8", "--label-guided", "--labelled-scenes", "9")).expectOneLineError(2, "--labelled-scenes");
        run(distill(dir.resolve("bad4"), "--label-guided", "--tau", "0")).expectOneLineError(2, "--tau");
        run(distill(dir.resolve("bad5"), "--scenes", "-1")).expectOneLineError(2, "--scenes");
    }
}
