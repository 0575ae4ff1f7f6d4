package org.dreamteacher.distill;

import org.dreamteacher.torch.kernels.TensorLossKernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.diffusion.ShippedTeacher;
import org.dreamteacher.data.Augmentation;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.FashionScenes;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SegmentationDataset;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.eval.SegmentationFineTune;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.PixelInterpreter;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.nn.SegmentationHead;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Label-guided distillation on tiny models: the label term is the soft-target cross entropy of the student head
 * against the interpreter (checked against a float64 composite, value and gradient), the interpreter learns its
 * labelled images, both tasks run, and an interrupted run resumes exactly.
 */
class LabelGuidedDistillationTest {
    @TempDir
    static Path dir;

    static ImageDataset images;
    static GaussianDiffusion teacher;

    @BeforeAll
    static void data() throws IOException {
        Progress.setEnabled(false);
        images = TrainingRunsTest.first96();
        teacher = TrainingRunsTest.trainTinyTeacher(images, dir.resolve("teacher"));
    }

    /** The first 40 images labelled, batches of 20, flipped. */
    private static LabelGuidance classification(int interpreterSteps) {
        int[] labelled = new int[40];
        for (int i = 0; i < labelled.length; i++) labelled[i] = i;
        Batches b = Batches.of(images).indices(labelled).batchSize(20).seed(3).augmentation(Augmentation.flip()).build();
        return new LabelGuidance(LabelGuidance.Task.CLASSIFICATION, 10, b,
                LabelGuidance.Settings.defaults().withInterpreterSteps(interpreterSteps).withInterpreterBatch(20).withInterpreterLr(2e-2)
                        .withInterpreterChannels(16));
    }

    private static Distiller.Settings settings(int steps) {
        return Distiller.Settings.defaults().withSteps(steps).withBatchSize(16).withLr(2e-3).withWeightDecay(0.01).withWarmupSteps(2)
                .withTimestep(20).withSeed(5).withCheckpointEvery(3).withLogEvery(1).withRegressorChannels(16);
    }

    private static Distiller distiller(ImageDataset data, int steps, LabelGuidance guidance) {
        return new Distiller(teacher.unet(), teacher.schedule(), "tiny", ResNetConfig.small(18, 4, 1, 0), data, TensorLossKernels.get("cpu"),
                settings(steps)).withLabelGuidance(guidance);
    }

    @Test
    void labelTermIsTheSoftTargetCrossEntropyOfTheHeadAgainstTheInterpreter() throws IOException {
        LabelGuidance g = classification(5);
        OnlineFeatures features = new OnlineFeatures(teacher.unet(), teacher.schedule(), 20, 1);
        Path run = dir.resolve("term");
        Files.createDirectories(run);
        try (PointerScope scope = new PointerScope(); PixelInterpreter interpreter = g.interpreter(features, run, 1);
                ResNet backbone = (ResNet) ResNetConfig.small(18, 4, 1, 0).build()) {
            g.prepareBackbone(backbone);
            assertEquals(10, backbone.numClasses());
            Batches.Batch batch = Batches.of(images).batchSize(8).seed(0).build().batch(0, 0);
            List<FeatureMap> teacherMaps;
            try (NoGradGuard ng = new NoGradGuard()) {
                teacherMaps = features.features(batch, 0);
            }
            List<FeatureMap> studentMaps = backbone.features(batch.images());
            LabelGuidance.Term term = g.term(TensorLossKernels.get("cpu"), interpreter, backbone, null, teacherMaps, studentMaps, batch.images());
            term.loss().backward();
            Tensor kernelGrad = backbone.headParameters().get(0).grad().clone();

            // The same quantity from libtorch's composite ops in float64.
            for (Tensor p : backbone.headParameters()) p.grad().zero_();
            Tensor target;
            try (NoGradGuard ng = new NoGradGuard()) {
                target = interpreter.pooled(Backbone.tensors(teacherMaps)).to(ScalarType.Double);
            }
            Tensor student = backbone.classifyFeatures(backbone.features(batch.images())).to(ScalarType.Double);
            Scalar tau = new Scalar(4.0);
            Tensor reference = torch.softmax(target.div(tau), 1).mul(torch.log_softmax(student.div(tau), 1)).sum(1).mean().neg();
            reference.backward();
            Tensor referenceGrad = backbone.headParameters().get(0).grad();

            assertEquals(reference.item_double(), term.value(), 1e-5 * Math.max(1, Math.abs(reference.item_double())));
            double err = kernelGrad.sub(referenceGrad).abs().max().item_double();
            double scale = referenceGrad.abs().max().item_double();
            assertTrue(scale > 0, "the head receives a gradient");
            assertTrue(err <= 1e-4 * scale, "head gradient differs by " + err + " (scale " + scale + ")");
        }
    }

    @Test
    void interpreterLearnsItsLabelledImagesAndIsSavedFrozen() throws IOException {
        // The shipped teacher: the tiny one of the other tests has trained for 4 steps and has nothing to teach.
        GaussianDiffusion shipped = ShippedTeacher.load();
        Path run = dir.resolve("interpreter");
        Files.createDirectories(run);
        OnlineFeatures features = new OnlineFeatures(shipped.unet(), shipped.schedule(), 50, 1);
        int[] labelled = new int[30];
        for (int i = 0; i < labelled.length; i++) labelled[i] = i;
        Batches b = Batches.of(images).indices(labelled).batchSize(15).seed(3).build();
        LabelGuidance g = new LabelGuidance(LabelGuidance.Task.CLASSIFICATION, 10, b, LabelGuidance.Settings.defaults()
                .withInterpreterSteps(80).withInterpreterBatch(15));
        try (PixelInterpreter interpreter = g.interpreter(features, run, 1)) {
            assertTrue(!interpreter.parameters().get(0).requires_grad(), "the interpreter is frozen");
        }
        List<JsonNode> log = MetricsLog.read(run.resolve("interpreter-metrics.jsonl"));
        double first = log.get(0).get("interpreter_loss").asDouble(), last = log.get(log.size() - 1).get("interpreter_loss").asDouble();
        assertTrue(last < 0.7 * first, "interpreter loss " + first + " -> " + last);
        assertTrue(log.get(log.size() - 1).get("interpreter_train_accuracy").asDouble() >= 0.6, log.toString());
        assertTrue(Files.isRegularFile(run.resolve("interpreter.dtt")));
    }

    @Test
    void classificationRunResumesExactly() throws IOException {
        distiller(images, 6, classification(10)).run(dir.resolve("whole"), false);
        distiller(images, 6, classification(10)).run(dir.resolve("parts"), false, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Distiller(teacher.unet(), teacher.schedule(), "tiny", ResNetConfig.small(18, 4, 1, 0), images, TensorLossKernels.get("cpu"),
                        settings(6)).run(dir.resolve("parts"), true));
        assertTrue(e.getMessage().contains("label guidance"), e.getMessage());
        distiller(images, 6, classification(10)).run(dir.resolve("parts"), true);
        for (String f : List.of("backbone.dtt", "regressor.dtt", "interpreter.dtt")) {
            Map<String, Tensor> x = TensorFile.read(dir.resolve("whole").resolve(f)).tensors();
            Map<String, Tensor> y = TensorFile.read(dir.resolve("parts").resolve(f)).tensors();
            assertEquals(x.keySet(), y.keySet());
            for (String k : x.keySet()) assertTrue(x.get(k).equal(y.get(k)), f + ": " + k + " differs");
        }
        ResNet b = Checkpoints.load(dir.resolve("whole/backbone.dtt"), ResNet.class);
        assertEquals(10, b.numClasses(), "the trained head is saved with the backbone");
        List<JsonNode> log = MetricsLog.read(dir.resolve("whole/metrics.jsonl"));
        for (JsonNode r : log) assertTrue(Double.isFinite(r.get("label_distill").asDouble()) && r.get("label_distill").asDouble() > 0, r.toString());
    }

    @Test
    void segmentationRunTrainsASegmentationHead() throws IOException {
        SegmentationDataset scenes = SegmentationFineTune.trainScenes(images, new FashionScenes.Options(32, 1, 2, 51), 24, 9);
        int[] labelled = {0, 1, 2, 3, 4, 5, 6, 7};
        Batches b = Batches.of(scenes).indices(labelled).batchSize(8).seed(3).augmentation(Augmentation.flip()).build();
        LabelGuidance g = new LabelGuidance(LabelGuidance.Task.SEGMENTATION, FashionScenes.NUM_CLASSES, b,
                LabelGuidance.Settings.defaults().withInterpreterSteps(4).withInterpreterBatch(8).withInterpreterLr(5e-3)
                        .withInterpreterChannels(16));
        Distiller.Settings s = Distiller.Settings.defaults().withSteps(3).withBatchSize(8).withLr(2e-3).withWeightDecay(0.01)
                .withWarmupSteps(1).withTimestep(20).withSeed(5).withCheckpointEvery(3).withLogEvery(1).withRegressorChannels(16);
        Distiller.Result r = new Distiller(teacher.unet(), teacher.schedule(), "tiny", ResNetConfig.small(18, 4, 1, 0), scenes.images(),
                TensorLossKernels.get("cpu"), s).withLabelGuidance(g).run(dir.resolve("seg"), false);
        assertTrue(Files.isRegularFile(r.backboneFile()));
        try (SegmentationHead head = Checkpoints.load(dir.resolve("seg/seghead.dtt"), SegmentationHead.class)) {
            assertEquals(FashionScenes.NUM_CLASSES, head.config().numClasses());
        }
        List<JsonNode> log = MetricsLog.read(dir.resolve("seg/metrics.jsonl"));
        assertEquals(3, log.size());
        for (JsonNode rec : log) assertTrue(rec.get("label_distill").asDouble() > 0, rec.toString());
    }
}
