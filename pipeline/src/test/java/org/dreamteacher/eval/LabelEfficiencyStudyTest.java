package org.dreamteacher.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.FashionScenes;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabelEfficiencyStudyTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void setUp() {
        EvalTests.setUp();
    }

    @AfterAll
    static void restore() {
        EvalTests.restore();
    }

    /** A stand-in for a distilled backbone: any checkpoint of the right architecture exercises the protocol. */
    private static List<BackboneSource> inits(Path dir) throws Exception {
        Path ckpt = dir.resolve("backbone.dtt");
        torch.manual_seed(42);
        try (ConfiguredModule m = EvalTests.cheapResNet().build()) {
            Checkpoints.save(ckpt, m);
        }
        return BackboneSource.pretrainedAndRandom(ckpt);
    }

    @Test
    void classificationStudyWritesJsonMarkdownAndPlot(@TempDir Path dir) throws Exception {
        FashionMnist fm = EvalTests.fashion();
        LabelEfficiencyStudy.ClassificationPlan plan = new LabelEfficiencyStudy.ClassificationPlan(List.of(0.01, 0.05), List.of(1L, 2L),
                List.of(Classifier.Settings.defaults(Mode.LINEAR_PROBE).withSteps(20).withBatchSize(16),
                        Classifier.Settings.defaults(Mode.FINE_TUNE).withSteps(3).withBatchSize(16)));
        Path out = dir.resolve("out");
        LabelEfficiencyStudy study = new LabelEfficiencyStudy(inits(dir), out, Map.of("command", "dreamteacher probe --test"));
        LabelEfficiencyStudy.Report r = study.classification(fm.train(), EvalTests.testSubset(20), plan);

        assertEquals(2 * 2 * 2 * 2, r.runs().size());
        assertEquals(2 * 2 * 2, r.cells().size());
        for (LabelEfficiencyStudy.Cell c : r.cells()) {
            List<Double> v = new ArrayList<>();
            for (LabelEfficiencyStudy.Run run : r.runs())
                if (run.init().equals(c.init()) && run.mode() == c.mode() && run.x() == c.x()) v.add(run.value());
            assertEquals(2, c.n());
            assertEquals(2, v.size());
            assertEquals((v.get(0) + v.get(1)) / 2, c.mean(), 1e-12);
            assertEquals(Math.abs(v.get(0) - v.get(1)) / Math.sqrt(2), c.std(), 1e-12, "sample std of two values");
            assertTrue(c.mean() >= 0 && c.mean() <= 1);
        }

        JsonNode json = JSON.readTree(r.json().toFile());
        assertEquals("classification", json.path("task").asText());
        assertTrue(json.path("complete").asBoolean());
        assertEquals("dreamteacher probe --test", json.path("provenance").path("command").asText());
        assertEquals(8, json.path("summary").size());
        assertEquals(16, json.path("runs").size());
        assertEquals("pretrained", json.path("inits").path(0).path("name").asText());
        assertTrue(json.path("inits").path(0).path("checkpoint").asText().endsWith("backbone.dtt"));
        assertTrue(json.path("inits").path(1).path("checkpoint").isNull(), "random init has no checkpoint");
        assertEquals(200, json.path("data").path("testImages").asInt());
        JsonNode first = json.path("summary").path(0);
        assertEquals(2, first.path("values").size());
        assertEquals(60, json.path("runs").path(0).path("result").path("trainSamples").asInt(), "1% of 6,000");

        String md = Files.readString(r.markdown());
        assertTrue(md.contains("| init | mode | 1% | 5% |"), md);
        assertTrue(md.contains("| pretrained | probe |") && md.contains("| random | finetune |"), md);
        assertTrue(md.contains(" ± ") && md.contains("(2)"), md);
        assertTrue(md.contains("dreamteacher probe --test"), md);
        assertTrue(!md.contains("Incomplete"), md);

        BufferedImage png = ImageIO.read(r.plot().toFile());
        assertTrue(png.getWidth() > 100 && png.getHeight() > 100);
        try (var files = Files.list(out)) {
            assertEquals(List.of("classification.json", "classification.md", "classification.png"),
                    files.map(p -> p.getFileName().toString()).sorted().toList(), "no temporary files left behind");
        }
    }

    @Test
    void segmentationStudyWritesPerClassIoUAndOverlays(@TempDir Path dir) throws Exception {
        FashionMnist fm = EvalTests.fashion();
        LabelEfficiencyStudy.SegmentationPlan plan = new LabelEfficiencyStudy.SegmentationPlan(List.of(8, 16), List.of(1L, 2L),
                List.of(SegmentationFineTune.Settings.defaults(Mode.FINE_TUNE).withSteps(3).withBatchSize(4).withHeadChannels(16)),
                FashionScenes.Options.DEFAULT, 8, 5);
        Path out = dir.resolve("out");
        LabelEfficiencyStudy.Report r = new LabelEfficiencyStudy(inits(dir), out).segmentation(fm.train(), fm.test(), plan);
        assertEquals(2 * 2 * 2, r.runs().size());
        assertEquals(4, r.cells().size());
        assertEquals(List.of(8.0, 16.0, 8.0, 16.0), r.cells().stream().map(LabelEfficiencyStudy.Cell::x).toList());

        JsonNode json = JSON.readTree(r.json().toFile());
        assertEquals("segmentation", json.path("task").asText());
        assertEquals(11, json.path("data").path("classNames").size());
        assertEquals(8, json.path("data").path("testScenes").asInt());
        JsonNode run = json.path("runs").path(0).path("result");
        assertEquals(11, run.path("classIoU").size());
        assertEquals(11, run.path("confusion").size());
        long pixels = 0;
        for (JsonNode row : run.path("confusion")) for (JsonNode v : row) pixels += v.asLong();
        assertEquals(8L * 64 * 64, pixels);
        assertEquals(11, json.path("summary").path(0).path("classIoUMean").size());
        assertTrue(Files.isRegularFile(Path.of(run.path("overlay").asText())));
        assertTrue(Files.isRegularFile(out.resolve("overlays").resolve("random").resolve("seg-finetune-16scenes-s2.png")));

        String md = Files.readString(r.markdown());
        assertTrue(md.contains("| init | mode | 8 | 16 |"), md);
        assertTrue(md.contains("Per-class IoU") && md.contains("| background |"), md);
        assertTrue(ImageIO.read(r.plot().toFile()) != null);
    }

    @Test
    void summaryIsMeanAndSampleStdPerCell() {
        List<LabelEfficiencyStudy.Run> runs = List.of(
                new LabelEfficiencyStudy.Run("a", Mode.LINEAR_PROBE, 0.1, 1, 0.5, 1, null),
                new LabelEfficiencyStudy.Run("a", Mode.LINEAR_PROBE, 0.1, 2, 0.7, 1, null),
                new LabelEfficiencyStudy.Run("a", Mode.LINEAR_PROBE, 0.1, 3, 0.9, 1, null),
                new LabelEfficiencyStudy.Run("a", Mode.FINE_TUNE, 0.1, 1, 0.4, 1, null));
        List<LabelEfficiencyStudy.Cell> cells = LabelEfficiencyStudy.summarise(runs);
        assertEquals(2, cells.size());
        assertEquals(0.7, cells.get(0).mean(), 1e-12);
        assertEquals(0.2, cells.get(0).std(), 1e-12);
        assertEquals(3, cells.get(0).n());
        assertEquals(0.0, cells.get(1).std(), 0.0, "one seed: no spread to report");
    }

    @Test
    void rejectsAmbiguousPlans() {
        BackboneSource r = BackboneSource.randomInit(EvalTests.cheapResNet());
        assertThrows(IllegalArgumentException.class, () -> new LabelEfficiencyStudy(List.of(r, r), Path.of("x")));
        Classifier.Settings probe = Classifier.Settings.defaults(Mode.LINEAR_PROBE);
        assertThrows(IllegalArgumentException.class,
                () -> new LabelEfficiencyStudy.ClassificationPlan(List.of(0.1, 0.1), List.of(1L), List.of(probe)));
        assertThrows(IllegalArgumentException.class,
                () -> new LabelEfficiencyStudy.ClassificationPlan(List.of(0.1), List.of(1L), List.of(probe, probe)));
        assertThrows(IllegalArgumentException.class,
                () -> new LabelEfficiencyStudy.ClassificationPlan(List.of(0.0), List.of(1L), List.of(probe)));
        assertThrows(IllegalArgumentException.class, () -> new LabelEfficiencyStudy.SegmentationPlan(List.of(10), List.of(1L),
                List.of(SegmentationFineTune.Settings.defaults(Mode.FINE_TUNE)), FashionScenes.Options.DEFAULT, 0, 1));
    }
}
