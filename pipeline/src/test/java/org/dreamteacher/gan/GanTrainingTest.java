package org.dreamteacher.gan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A few steps of a tiny GAN on Fashion-MNIST: finite losses, the run folder's files, and an exact resume. */
class GanTrainingTest {
    @TempDir
    static Path dir;

    static ImageDataset images;

    @BeforeAll
    static void data() throws IOException {
        Progress.setEnabled(false);
        int[] first = new int[64];
        for (int i = 0; i < first.length; i++) first[i] = i;
        images = FashionMnist.embeddedSubset().train().subset(first);
    }

    /** steps, batch 8, lr 2e-3, R1 gamma 0.1 every 2 steps, EMA 0.9, seed 5, checkpoints every 2, pictures every 3, log every step. */
    static GanTrainer.Settings settings(int steps) {
        return GanTrainer.Settings.defaults().withSteps(steps).withBatchSize(8).withR1Gamma(0.1).withR1Every(2).withEmaDecay(0.9)
                .withSeed(5).withCheckpointEvery(2).withSampleEvery(3).withLogEvery(1).withSamples(4);
    }

    @Test
    void aFewStepsRunFiniteAndLeaveTheRunFiles() throws IOException {
        Path run = dir.resolve("run");
        GanTrainer.Result r = new GanTrainer(GanTest.tiny(), images, settings(3)).run(run, false);
        assertEquals(3, r.steps());
        assertTrue(Double.isFinite(r.lastLossG()) && Double.isFinite(r.lastLossD()), r.toString());
        assertEquals(run.resolve("generator.dtt"), r.generatorFile());
        try (GanGenerator g = Checkpoints.load(r.generatorFile(), GanGenerator.class)) {
            assertEquals(GanTest.tiny(), g.config());
        }
        List<JsonNode> log = MetricsLog.read(run.resolve("metrics.jsonl"));
        assertEquals(3, log.size());
        for (JsonNode rec : log)
            for (String k : List.of("loss_g", "loss_d", "d_real", "d_fake")) assertTrue(Double.isFinite(rec.path(k).asDouble(Double.NaN)), k + " in " + rec);
        // R1 is computed at steps 0 and 2 (every 2), logged with the records of steps 1 and 3
        assertTrue(log.get(0).get("r1").asDouble() >= 0);
        assertTrue(!log.get(1).has("r1") && log.get(2).has("r1"), log.toString());
        assertTrue(Files.isDirectory(run.resolve("checkpoints/step-00000002")));
        assertTrue(Files.isDirectory(run.resolve("checkpoints/step-00000003")));
        for (String f : List.of("generator", "discriminator", "ema"))
            assertTrue(Files.isRegularFile(run.resolve("checkpoints/step-00000003/" + f + ".dtt")), f);
        // the steps move the weights: the generator of step 3 is not that of step 2
        Map<String, Tensor> s2 = TensorFile.read(run.resolve("checkpoints/step-00000002/generator.dtt")).tensors(),
                s3 = TensorFile.read(run.resolve("checkpoints/step-00000003/generator.dtt")).tensors();
        assertTrue(s2.keySet().stream().anyMatch(k -> !s2.get(k).equal(s3.get(k))), "the weights did not change");
        for (String png : List.of("sample-grid.png", "loss-curve.png")) assertNotNull(ImageIO.read(run.resolve(png).toFile()), png);
        // a 2x2 grid of 28 px images at scale 2 with 2 px gaps
        assertEquals(2 * (28 * 2 + 2) + 2, ImageIO.read(run.resolve("sample-grid.png").toFile()).getWidth());
        IllegalArgumentException again = assertThrows(IllegalArgumentException.class,
                () -> new GanTrainer(GanTest.tiny(), images, settings(3)).run(run, false));
        assertTrue(again.getMessage().contains("--resume"), again.getMessage());
    }

    @Test
    void resumedTrainingEndsWithTheSameWeights() throws IOException {
        new GanTrainer(GanTest.tiny(), images, settings(5)).run(dir.resolve("whole"), false);
        GanTrainer.Result first = new GanTrainer(GanTest.tiny(), images, settings(5)).run(dir.resolve("parts"), false, 3);
        assertEquals(null, first.generatorFile());
        new GanTrainer(GanTest.tiny(), images, settings(5)).run(dir.resolve("parts"), true);
        Map<String, Tensor> a = TensorFile.read(dir.resolve("whole/generator.dtt")).tensors(),
                b = TensorFile.read(dir.resolve("parts/generator.dtt")).tensors();
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertTrue(a.get(k).equal(b.get(k)), k + " differs");
        for (String f : List.of("discriminator", "generator")) {
            Map<String, Tensor> x = TensorFile.read(dir.resolve("whole/checkpoints/step-00000005/" + f + ".dtt")).tensors(),
                    y = TensorFile.read(dir.resolve("parts/checkpoints/step-00000005/" + f + ".dtt")).tensors();
            for (String k : x.keySet()) assertTrue(x.get(k).equal(y.get(k)), f + " " + k + " differs");
        }
        assertEquals(Files.readAllLines(dir.resolve("whole/metrics.jsonl")), Files.readAllLines(dir.resolve("parts/metrics.jsonl")));
        // a resume with other settings is refused, naming the difference
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new GanTrainer(GanTest.tiny(), images,
                GanTrainer.Settings.defaults().withSteps(6).withBatchSize(8).withLr(1e-3).withR1Gamma(0.1).withR1Every(2).withEmaDecay(0.9)
                        .withSeed(5).withCheckpointEvery(2).withSampleEvery(3).withLogEvery(1)
                        .withSamples(4)).run(dir.resolve("parts"), true));
        assertTrue(e.getMessage().contains("settings.lr"), e.getMessage());
    }

    @Test
    void refusesDataOfAnotherSize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new GanTrainer(new GanConfig(1, 32, 8, 8, 1, List.of(8, 8, 8, 8)), images, settings(1)));
        assertTrue(e.getMessage().contains("28x28"), e.getMessage());
    }
}
