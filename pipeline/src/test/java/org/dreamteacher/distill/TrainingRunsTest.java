package org.dreamteacher.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.TeacherTrainer;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Teacher training and distillation on tiny models: the losses fall, and an interrupted run resumes exactly. */
class TrainingRunsTest {
    @TempDir
    static Path dir;

    static ImageDataset images;
    static GaussianDiffusion teacher;

    /** 28x28 grey, two levels (28, 14), taps at strides 2 and 1. */
    static DiffusionConfig tinyTeacher() {
        UNetConfig u = new UNetConfig(1, 1, 28, 8, List.of(1, 2), 1, List.of(), 2, 0, false, 0.0, 0, 4, List.of(0, 2));
        return new DiffusionConfig(u, 200, "linear");
    }

    @BeforeAll
    static void data() throws IOException {
        Progress.setEnabled(false);
        images = first96();
        teacher = trainTinyTeacher(images, dir.resolve("t0"));
    }

    /** The first 96 images of the embedded training subset. */
    static ImageDataset first96() throws IOException {
        int[] first = new int[96];
        for (int i = 0; i < first.length; i++) first[i] = i;
        return FashionMnist.embeddedSubset().train().subset(first);
    }

    /** {@link #tinyTeacher()} trained for 4 steps on {@code images} in {@code runDir}. */
    static GaussianDiffusion trainTinyTeacher(ImageDataset images, Path runDir) throws IOException {
        TeacherTrainer.Settings s = TeacherTrainer.Settings.defaults().withSteps(4).withBatchSize(16).withLr(1e-3).withWeightDecay(0)
                .withWarmupSteps(1).withClipNorm(1).withEmaDecay(0.9).withSeed(3).withCheckpointEvery(100).withLogEvery(1);
        Path file = new TeacherTrainer(tinyTeacher(), images, s).run(runDir, false).teacherFile();
        return Checkpoints.load(file, GaussianDiffusion.class);
    }

    private static void assertSameTensors(Path a, Path b) throws IOException {
        Map<String, Tensor> x = TensorFile.read(a).tensors(), y = TensorFile.read(b).tensors();
        assertEquals(x.keySet(), y.keySet());
        for (String k : x.keySet()) assertTrue(x.get(k).equal(y.get(k)), k + " differs");
    }

    private static Distiller distiller(int steps) {
        Distiller.Settings s = Distiller.Settings.defaults().withSteps(steps).withBatchSize(16).withLr(2e-3).withWeightDecay(0.01)
                .withWarmupSteps(2).withTimestep(20).withSeed(5).withCheckpointEvery(3).withLogEvery(1).withRegressorChannels(16);
        return new Distiller(teacher.unet(), teacher.schedule(), "tiny", ResNetConfig.small(18, 4, 1, 10), images,
                TensorLossKernels.get("cpu"), s);
    }

    @Test
    void distillationLossFalls() throws IOException {
        Distiller.Result r = distiller(40).run(dir.resolve("falls"), false);
        List<com.fasterxml.jackson.databind.JsonNode> log = MetricsLog.read(dir.resolve("falls/metrics.jsonl"));
        assertEquals(40, log.size());
        double early = 0, late = 0;
        for (int i = 0; i < 5; i++) {
            early += log.get(i).get("loss").asDouble() / 5;
            late += log.get(log.size() - 1 - i).get("loss").asDouble() / 5;
        }
        assertTrue(late < 0.8 * early, "loss " + early + " -> " + late);
        assertEquals("c2 (4 ch) <- out2 (8 ch, stride 1), c3 (8 ch) <- out0 (16 ch, stride 2)", r.pairing().toString());
        assertTrue(Files.isRegularFile(r.backboneFile()));
    }

    /**
     * The teacher has taps at strides 1 and 2 only (C2 and C3 of these backbones), yet one distillation step gives
     * every parameter of the backbone, C4 and C5 included, a gradient: the regressor reads every level. Without
     * weight decay, AdamW's first step moves exactly the parameters whose gradient is not zero.
     */
    @Test
    void oneStepTrainsEveryBackboneStage() throws IOException {
        List<org.dreamteacher.nn.ModelConfig> backbones = List.of(ResNetConfig.small(18, 4, 1, 10),
                org.dreamteacher.nn.ConvNeXtConfig.of(List.of(1, 1, 1, 1), List.of(4, 8, 8, 16), 1, 10, 1));
        for (org.dreamteacher.nn.ModelConfig config : backbones) {
            Distiller.Settings s = Distiller.Settings.defaults().withSteps(1).withBatchSize(16).withWeightDecay(0).withWarmupSteps(0)
                    .withClipNorm(0).withTimestep(20).withSeed(5).withCheckpointEvery(1).withLogEvery(1).withFlip(false)
                    .withRegressorChannels(8);
            Path run = dir.resolve("every-stage-" + config.kind());
            Distiller.Result r = new Distiller(teacher.unet(), teacher.schedule(), "tiny", config, images,
                    TensorLossKernels.get("cpu"), s).run(run, false);
            assertTrue(r.pairing().describe().contains("top-down path only: c4, c5"), r.pairing().describe());
            org.bytedeco.pytorch.global.torch.manual_seed(s.seed());
            try (org.dreamteacher.nn.ConfiguredModule initial = config.build();
                    org.dreamteacher.nn.ConfiguredModule trained = Checkpoints.load(r.backboneFile())) {
                List<Tensor> before = ((org.dreamteacher.nn.Backbone) initial).backboneParameters();
                List<Tensor> after = ((org.dreamteacher.nn.Backbone) trained).backboneParameters();
                assertEquals(before.size(), after.size());
                int unchanged = 0;
                for (int i = 0; i < before.size(); i++) if (before.get(i).equal(after.get(i))) unchanged++;
                assertEquals(0, unchanged, config.kind() + ": " + unchanged + " of " + before.size()
                        + " backbone parameters got no gradient");
            }
        }
    }

    @Test
    void resumedDistillationEndsWithTheSameWeights() throws IOException {
        distiller(7).run(dir.resolve("whole"), false);
        Distiller.Result part = distiller(7).run(dir.resolve("parts"), false, 4);
        assertNull(part.backboneFile());
        assertEquals(4, part.steps());
        assertThrows(IllegalArgumentException.class, () -> distiller(7).run(dir.resolve("parts"), false),
                "a folder with checkpoints needs --resume");
        Distiller.Result rest = distiller(7).run(dir.resolve("parts"), true);
        assertEquals(3, rest.steps());
        assertSameTensors(dir.resolve("whole/backbone.dtt"), dir.resolve("parts/backbone.dtt"));
        assertSameTensors(dir.resolve("whole/regressor.dtt"), dir.resolve("parts/regressor.dtt"));
        assertEquals(Files.readAllLines(dir.resolve("whole/metrics.jsonl")), Files.readAllLines(dir.resolve("parts/metrics.jsonl")));
    }

    @Test
    void distillationFromAStoredFeatureDataset() throws IOException {
        Path store = dir.resolve("store");
        FeatureStore.encode(teacher.unet(), teacher.schedule(), images, 20, 5, store, 32, FeatureStore.Precision.FLOAT16, false);
        Distiller.Settings noFlip = Distiller.Settings.defaults().withSteps(3).withBatchSize(16).withLr(2e-3).withWeightDecay(0.01)
                .withWarmupSteps(1).withTimestep(20).withSeed(5).withCheckpointEvery(3).withLogEvery(1).withFlip(false)
                .withRegressorChannels(16);
        Distiller.Settings flip = Distiller.Settings.defaults().withSteps(3).withBatchSize(16).withLr(2e-3).withWeightDecay(0.01)
                .withWarmupSteps(1).withTimestep(20).withSeed(5).withCheckpointEvery(3).withLogEvery(1).withRegressorChannels(16);
        try (FeatureStore features = FeatureStore.open(store)) {
            Distiller.Result r = new Distiller(new StoredFeatures(features, images), "store", ResNetConfig.small(18, 4, 1, 10), images,
                    TensorLossKernels.get("cpu"), noFlip).run(dir.resolve("stored"), false);
            assertTrue(Double.isFinite(r.lastLoss()) && Files.isRegularFile(r.backboneFile()));
            assertEquals("c2 (4 ch) <- out2 (8 ch, stride 1), c3 (8 ch) <- out0 (16 ch, stride 2)", r.pairing().toString());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> new Distiller(new StoredFeatures(features, images),
                    "store", ResNetConfig.small(18, 4, 1, 10), images, TensorLossKernels.get("cpu"), flip).run(dir.resolve("stored-flip"), false));
            assertTrue(e.getMessage().contains("Augmentation.NONE"), e.getMessage());
        }
    }

    @Test
    void resumedTeacherTrainingEndsWithTheSameWeights() throws IOException {
        TeacherTrainer.Settings s = TeacherTrainer.Settings.defaults().withSteps(5).withBatchSize(16).withLr(1e-3).withWeightDecay(0)
                .withWarmupSteps(1).withClipNorm(1).withEmaDecay(0.9).withSeed(9).withCheckpointEvery(2).withLogEvery(1);
        new TeacherTrainer(tinyTeacher(), images, s).run(dir.resolve("tw"), false);
        new TeacherTrainer(tinyTeacher(), images, s).run(dir.resolve("tp"), false, 3);
        new TeacherTrainer(tinyTeacher(), images, s).run(dir.resolve("tp"), true);
        assertSameTensors(dir.resolve("tw/teacher.dtt"), dir.resolve("tp/teacher.dtt"));
    }
}
