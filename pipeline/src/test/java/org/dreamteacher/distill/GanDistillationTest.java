package org.dreamteacher.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.features.FeatureManifest;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.gan.GanConfig;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.gan.GanInversion;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Distillation from a GAN generator: online (fresh generated images every step, their taps as targets, an exact
 * resume), from a generated store (the generator's own images and taps kept on disk), and with label guidance
 * (the labelled images inverted into the generator).
 */
class GanDistillationTest {
    @TempDir
    static Path dir;

    static GanGenerator generator;

    @BeforeAll
    static void build() {
        Progress.setEnabled(false);
        org.bytedeco.pytorch.global.torch.manual_seed(3);
        generator = new GanConfig(1, 28, 8, 8, 1, List.of(8, 8, 8, 8)).build();
    }

    @AfterAll
    static void close() {
        generator.close();
    }

    static Distiller.Settings settings(int steps) {
        return Distiller.Settings.defaults().withSteps(steps).withBatchSize(4).withLr(2e-3).withWeightDecay(0.01).withWarmupSteps(1)
                .withTimestep(0).withSeed(5).withCheckpointEvery(2).withLogEvery(1).withFlip(false).withRegressorChannels(16);
    }

    static Distiller distiller(GanFeatures source, int steps) {
        return new Distiller(source, "gan-test", ResNetConfig.small(18, 4, 1, 10), source.placeholderImages(4), TensorLossKernels.get("cpu"),
                settings(steps));
    }

    @Test
    void eachStepGeneratesItsOwnImagesAndTaps() {
        GanFeatures source = new GanFeatures(generator, 5);
        ImageDataset placeholder = source.placeholderImages(4);
        assertEquals(32, placeholder.height());
        Batches batches = Batches.of(placeholder).batchSize(4).seed(5).dropLast(true).build();
        try (PointerScope scope = new PointerScope()) {
            Batches.Batch b = batches.batch(0, 0);
            FeatureSource.Sample a = source.sample(b, 7), again = source.sample(b, 7), other = source.sample(b, 8);
            assertArrayEquals(new long[] {4, 1, 32, 32}, a.images().sizes().vec().get());
            assertTrue(a.images().min().item_double() >= -1 && a.images().max().item_double() <= 1);
            assertTrue(a.images().std().item_double() > 0, "the student must see generated images, not the blank placeholders");
            assertTrue(a.images().equal(again.images()), "a step's images are a function of (seed, step)");
            assertFalse(a.images().equal(other.images()), "every step draws new latents");
            assertEquals(List.of(8, 4, 2, 1), a.features().stream().map(FeatureMap::stride).toList());
            for (int i = 0; i < 4; i++) assertTrue(a.features().get(i).tensor().equal(again.features().get(i).tensor()));
        }
    }

    @Test
    void inversionDrawsTheGeneratorsOwnImagesBack() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            org.bytedeco.pytorch.global.torch.manual_seed(11);
            Tensor images = generator.sample(generator.latents(6));
            GanInversion.Settings one = GanInversion.Settings.defaults().withSteps(1), many = GanInversion.Settings.defaults().withSteps(150);
            double before = GanInversion.reconstructionError(generator, GanInversion.invert(generator, images, one, 4), images, 9).mean().item_double();
            Tensor w = GanInversion.invert(generator, images, many, 4);
            double after = GanInversion.reconstructionError(generator, w, images, 9).mean().item_double();
            assertTrue(after < 0.25 * before, "inversion error " + after + " after 150 steps, " + before + " after 1");
            assertTrue(w.equal(GanInversion.invert(generator, images, many, 4)), "the same seed inverts to the same styles");
            assertThrows(IllegalArgumentException.class, () -> GanInversion.invert(generator, org.bytedeco.pytorch.global.torch.zeros(2, 1, 32, 32),
                    many, 4), "canvas-sized images are not the generator's image size");
        }
    }

    @Test
    void labelGuidanceReadsTheGeneratorsFeaturesOfTheInvertedLabelledImages() throws IOException {
        ImageDataset images = TrainingRunsTest.first96();
        int[] labelled = new int[16];
        for (int i = 0; i < labelled.length; i++) labelled[i] = 2 * i;
        LabelGuidance guidance = new LabelGuidance(LabelGuidance.Task.CLASSIFICATION, 10,
                Batches.of(images).indices(labelled).batchSize(8).seed(3).augmentation(org.dreamteacher.data.Augmentation.flip()).build(),
                LabelGuidance.Settings.defaults().withInterpreterSteps(3).withInterpreterBatch(8).withInterpreterChannels(8));
        GanInversion.Settings inversion = GanInversion.Settings.defaults().withSteps(5).withBatchSize(8);
        Path run = dir.resolve("guided");
        Distiller.Result r = distiller(new GanFeatures(generator, 5, inversion), 3).withLabelGuidance(guidance).run(run, false);
        assertTrue(Double.isFinite(r.lastLoss()));
        assertTrue(java.nio.file.Files.exists(run.resolve("interpreter.dtt")));
        TensorFile.Contents styles = TensorFile.read(run.resolve(GanFeatures.INVERTED_STYLES));
        assertArrayEquals(new long[] {16, 8}, styles.tensors().get("styles").sizes().vec().get());
        assertTrue(java.nio.file.Files.readString(run.resolve("metrics.jsonl")).contains("label_distill"));

        try (PointerScope scope = new PointerScope()) {
            // The interpreter's features of a labelled batch: the generator's taps of the images drawn from their styles.
            FeatureSource labelledSource = new GanFeatures(generator, 5, inversion).forLabelledImages(
                    Batches.of(images).indices(labelled).batchSize(8).seed(3).build(), run, 5);
            Batches.Batch b = Batches.of(images).indices(labelled).batchSize(8).seed(3).build().batch(0, 1);
            List<FeatureMap> f = labelledSource.features(b, 2);
            assertEquals(List.of(8, 4, 2, 1), f.stream().map(FeatureMap::stride).toList());
            assertEquals(8, f.get(0).tensor().size(0));
            // Another inversion setting in the same run folder is refused, not silently mixed.
            assertThrows(IllegalStateException.class, () -> new GanFeatures(generator, 5, inversion.withSteps(6)).forLabelledImages(
                    Batches.of(images).indices(labelled).batchSize(8).seed(3).build(), run, 5));
            // Images that were not inverted have no styles.
            Batches.Batch other = Batches.of(images).indices(new int[] {1, 3}).batchSize(2).seed(3).build().batch(0, 0);
            assertThrows(IllegalArgumentException.class, () -> labelledSource.features(other, 0));
        }
    }

    @Test
    void distilsAndResumesExactly() throws IOException {
        Distiller.Result whole = distiller(new GanFeatures(generator, 5), 4).run(dir.resolve("whole"), false);
        assertArrayEquals(new int[] {1, 2, 4, 8}, whole.pairing().strides());
        assertArrayEquals(new String[] {"b32", "b16", "b8", "b4"}, whole.pairing().teacherNames());
        assertTrue(Double.isFinite(whole.firstLoss()) && Double.isFinite(whole.lastLoss()));
        assertEquals(dir.resolve("whole/backbone.dtt"), whole.backboneFile());

        distiller(new GanFeatures(generator, 5), 4).run(dir.resolve("parts"), false, 2);
        distiller(new GanFeatures(generator, 5), 4).run(dir.resolve("parts"), true);
        Map<String, Tensor> a = TensorFile.read(dir.resolve("whole/backbone.dtt")).tensors(),
                b = TensorFile.read(dir.resolve("parts/backbone.dtt")).tensors();
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertTrue(a.get(k).equal(b.get(k)), k + " differs");
    }

    @Test
    void aGeneratedStoreKeepsWhatTheGeneratorComputedAndDistils() throws IOException {
        Path store = dir.resolve("store");
        FeatureStore.Options o = new FeatureStore.Options(4, 2, FeatureStore.Precision.FLOAT32, false, "gan-test");
        FeatureStore.Summary s = FeatureStore.encodeGenerated(generator, 10, 7, store, o);
        assertEquals(3, s.chunks());
        try (FeatureStore f = FeatureStore.open(store); PointerScope scope = new PointerScope()) {
            FeatureManifest m = f.manifest();
            assertEquals(FeatureManifest.Mode.GENERATED, m.mode());
            assertEquals(-1, m.timestep(), "a generated store has no noise level");
            assertTrue(f.hasImages());
            assertArrayEquals(new int[] {1, 32, 32}, m.imageShape(), "the whole canvas, on which every tap's stride is exact");
            assertEquals(List.of("b4", "b8", "b16", "b32"), m.taps().stream().map(FeatureManifest.Tap::name).toList());
            assertEquals(List.of(8, 4, 2, 1), m.taps().stream().map(FeatureManifest.Tap::stride).toList());
            // Images 4 and 5 are the first sub-batch of chunk 1: drawing it again from its seed gives the stored pairs.
            org.bytedeco.pytorch.global.torch.manual_seed(org.dreamteacher.data.SeededRandom.mix(7, org.dreamteacher.data.SeedStreams.GAN_STORE, 4));
            generator.eval();
            GanGenerator.Output again;
            try (org.bytedeco.pytorch.NoGradGuard ng = new org.bytedeco.pytorch.NoGradGuard()) {
                again = generator.synthesize(generator.latents(2));
            }
            int[] idx = {4, 5};
            Tensor images = f.images(idx);
            assertTrue(images.min().item_double() >= -1 && images.max().item_double() <= 1);
            assertTrue(images.equal(again.image().clamp(new org.bytedeco.pytorch.ScalarOptional(new org.bytedeco.pytorch.Scalar(-1.0)),
                    new org.bytedeco.pytorch.ScalarOptional(new org.bytedeco.pytorch.Scalar(1.0)))));
            List<FeatureMap> stored = f.features(idx);
            for (int i = 0; i < 4; i++)
                assertTrue(stored.get(i).tensor().equal(again.features().get(i).tensor()), "tap " + stored.get(i).name() + " differs");
            assertFalse(f.images(new int[] {0}).equal(f.images(new int[] {4})), "every batch draws its own latents");
        }

        // A chunk lost and drawn again on resume: the same bytes as the uninterrupted store.
        Path parts = dir.resolve("store-parts");
        FeatureStore.encodeGenerated(generator, 10, 7, parts, o);
        java.nio.file.Files.delete(parts.resolve(FeatureManifest.chunkFileName(1)));
        FeatureStore.Summary resumed = FeatureStore.encodeGenerated(generator, 10, 7, parts,
                new FeatureStore.Options(4, 2, FeatureStore.Precision.FLOAT32, true, "gan-test"));
        assertEquals(1, resumed.encodedChunks());
        assertEquals(2, resumed.skippedChunks());
        for (int k = 0; k < 3; k++)
            assertArrayEquals(java.nio.file.Files.readAllBytes(store.resolve(FeatureManifest.chunkFileName(k))),
                    java.nio.file.Files.readAllBytes(parts.resolve(FeatureManifest.chunkFileName(k))), "chunk " + k);
        assertThrows(IllegalArgumentException.class, () -> FeatureStore.encodeGenerated(generator, 10, 8, parts,
                new FeatureStore.Options(4, 2, FeatureStore.Precision.FLOAT32, true, "gan-test")), "a resume with another seed");

        try (FeatureStore f = FeatureStore.open(store)) {
            StoredFeatures source = new StoredFeatures(f);
            Distiller.Result r = new Distiller(source, "gan-store", ResNetConfig.small(18, 4, 1, 10), f.imageDataset(), TensorLossKernels.get("cpu"),
                    settings(3)).run(dir.resolve("from-store"), false);
            assertArrayEquals(new String[] {"b32", "b16", "b8", "b4"}, r.pairing().teacherNames());
            assertTrue(Double.isFinite(r.firstLoss()) && Double.isFinite(r.lastLoss()));
        }
    }
}
