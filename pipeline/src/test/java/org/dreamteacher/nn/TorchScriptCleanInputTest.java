package org.dreamteacher.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.QualifiedName;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.features.FeatureStore.Precision;
import org.dreamteacher.distill.StoredFeatures;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The clean input contract of TorchScript teachers: {@code forward(x0, t, noise)} with noise of the shape the
 * module's {@code noise_shape(x0)} gives, as a latent diffusion model needs. The modules are written in
 * TorchScript source, compiled by libtorch, saved and loaded back; the latent teacher
 * ({@link LatentTeacherModules}) encodes 1x12x12 images into a 4x6x6 latent, noises it with its own schedule
 * table and runs a small U-Net on it.
 */
class TorchScriptCleanInputTest {
    static final int TABLE = LatentTeacherModules.TABLE;

    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        TorchRuntime.init();
    }

    private Path save(JitModule m, String name) {
        Path file = dir.resolve(name);
        m.save(file.toString());
        m.close();
        return file;
    }

    private Path latentFile(boolean optionalNoise) {
        return save(LatentTeacherModules.latentTeacher(optionalNoise), optionalNoise ? "latent-optional.pt" : "latent.pt");
    }

    /** A module that hands back what it received: x0 (stride 1), t broadcast to an image (stride 1) and the noise (stride 2). */
    private Path echoFile() {
        JitModule m = new JitModule(new QualifiedName("Echo"));
        m.define("def noise_shape(self, x0: Tensor) -> List[int]:\n"
                + "    return [x0.size(0), 4, x0.size(2) // 2, x0.size(3) // 2]\n"
                + "def forward(self, x0: Tensor, t: Tensor, noise: Tensor) -> Dict[str, Tensor]:\n"
                + "    return {'x0': x0, 't': t.view(-1, 1, 1, 1).expand(-1, 1, x0.size(2), x0.size(3)), 'noise': noise}\n");
        return save(m, "echo.pt");
    }

    private static Tensor images(int n, long seed) {
        return new Noise(seed).normal(n, 1, 12, 12).clamp(new org.bytedeco.pytorch.ScalarOptional(new Scalar(-1.0)),
                new org.bytedeco.pytorch.ScalarOptional(new Scalar(1.0)));
    }

    private static ImageDataset dataset(int n) {
        Tensor x = images(n, 21).contiguous();
        float[] px = new float[n * 144];
        x.data_ptr_float().get(px);
        return ImageDataset.ofFloats(px, n, 1, 12, 12, null, 0, null);
    }

    private static Tensor tap(List<FeatureMap> maps, String name) {
        for (FeatureMap m : maps) if (m.name().equals(name)) return m.tensor();
        throw new AssertionError("no tap " + name + " in " + maps.stream().map(FeatureMap::name).toList());
    }

    @Test
    void theModuleReceivesTheCleanImagesTheTimestepsAndTheProjectsNoise() {
        NoiseSchedule schedule = NoiseSchedule.linear(100);
        Tensor x = images(3, 1);
        try (TorchScriptTeacher echo = TorchScriptTeacher.load(echoFile(), 1, TeacherInput.CLEAN)) {
            assertEquals(TeacherInput.CLEAN, echo.input());
            assertArrayEquals(new long[] {3, 4, 6, 6}, echo.noiseShape(x));
            List<FeatureMap> maps = GaussianDiffusion.encode(echo, schedule, x, 37, new Noise(9));
            assertEquals("noise", maps.get(0).name(), "largest stride first");
            assertEquals(2, maps.get(0).stride());
            assertTrue(tap(maps, "x0").equal(x), "x0 reaches the module as it is, not noised");
            Tensor t = tap(maps, "t");
            assertEquals(ScalarType.Long, t.scalar_type().intern());
            assertTrue(t.eq(new Scalar(37)).all().item_bool(), "every timestep is 37");
            assertTrue(tap(maps, "noise").equal(new Noise(9).normal(3, 4, 6, 6)), "the noise is the next draw of the caller's stream, latent-shaped");

            // A data-parallel rank holding rows 1..2 of the batch gets exactly those rows' noise.
            List<FeatureMap> shard = GaussianDiffusion.encode(echo, schedule, x.narrow(0, 1, 2), 37, Noise.rows(9, 1, 3));
            assertTrue(tap(shard, "noise").equal(tap(maps, "noise").narrow(0, 1, 2)));
        }
    }

    @Test
    void aFeatureStoreGetsEachImagesOwnLatentNoiseAndRecordsTheContract() throws IOException {
        ImageDataset data = dataset(5);
        try (TorchScriptTeacher echo = TorchScriptTeacher.load(echoFile(), 1, TeacherInput.CLEAN)) {
            FeatureStore.encode(echo, NoiseSchedule.linear(100), data, 12, 4, dir.resolve("store"),
                    new FeatureStore.Options(4, 3, Precision.FLOAT32, false, "echo"));
        }
        try (FeatureStore store = FeatureStore.open(dir.resolve("store"))) {
            assertEquals(TeacherInput.CLEAN, store.manifest().teacherInput());
            assertEquals("clean", store.manifest().teacher().path("input").asText());
            assertEquals(TeacherInput.CLEAN, new StoredFeatures(store, data).teacherInput());
            int[] idx = {4, 0, 3};
            List<FeatureMap> f = store.features(idx);
            assertTrue(tap(f, "noise").equal(FeatureStore.encodingNoise(4, idx, new long[] {4, 6, 6})), "per-image noise of (seed, index)");
            assertTrue(tap(f, "x0").equal(data.toTensor(idx)));
            assertTrue(tap(f, "t").eq(new Scalar(12)).all().item_bool());
        }
    }

    @Test
    void aLatentTeacherGivesTheSameFeaturesForTheSameSeed() throws IOException {
        NoiseSchedule schedule = NoiseSchedule.linear(TABLE);
        Tensor x = images(2, 3);
        try (TorchScriptTeacher teacher = TorchScriptTeacher.load(latentFile(false), 1, TeacherInput.CLEAN)) {
            List<FeatureMap> a = GaussianDiffusion.encode(teacher, schedule, x, 30, new Noise(5));
            List<FeatureMap> b = GaussianDiffusion.encode(teacher, schedule, x, 30, new Noise(5));
            List<FeatureMap> other = GaussianDiffusion.encode(teacher, schedule, x, 30, new Noise(6));
            assertEquals(List.of("mid", "up"), a.stream().map(FeatureMap::name).toList());
            assertArrayEquals(new int[] {4, 2}, a.stream().mapToInt(FeatureMap::stride).toArray());
            assertArrayEquals(new long[] {2, 16, 3, 3}, a.get(0).tensor().sizes().vec().get());
            assertArrayEquals(new long[] {2, 8, 6, 6}, a.get(1).tensor().sizes().vec().get());
            for (int i = 0; i < 2; i++) assertTrue(a.get(i).tensor().equal(b.get(i).tensor()), "same seed, same features");
            assertFalse(a.get(1).tensor().equal(other.get(1).tensor()), "another seed noises the latent differently");
            assertTrue(a.get(1).tensor().abs().sum().item_double() > 0, "the features are not all zero");

            ImageDataset data = dataset(6);
            for (String name : new String[] {"s1", "s2"})
                FeatureStore.encode(teacher, schedule, data, 30, 8, dir.resolve(name), new FeatureStore.Options(4, 2, Precision.FLOAT32, false, ""));
            FeatureStore.encode(teacher, schedule, data, 30, 9, dir.resolve("s3"), new FeatureStore.Options(4, 2, Precision.FLOAT32, false, ""));
        }
        for (String chunk : new String[] {"chunk-00000.dtt", "chunk-00001.dtt"}) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("s1").resolve(chunk)), Files.readAllBytes(dir.resolve("s2").resolve(chunk)));
            assertFalse(java.util.Arrays.equals(Files.readAllBytes(dir.resolve("s1").resolve(chunk)),
                    Files.readAllBytes(dir.resolve("s3").resolve(chunk))));
        }
    }

    @Test
    void aStoreCannotBeResumedUnderTheOtherContract() throws IOException {
        // forward(x0, t, noise=None) runs under both contracts, so only the recorded contract tells them apart.
        Path file = latentFile(true);
        ImageDataset data = dataset(4);
        NoiseSchedule schedule = NoiseSchedule.linear(TABLE);
        Path store = dir.resolve("mixed");
        try (TorchScriptTeacher clean = TorchScriptTeacher.load(file, 1, TeacherInput.CLEAN)) {
            FeatureStore.encode(clean, schedule, data, 10, 0, store, new FeatureStore.Options(2, 2, Precision.FLOAT32, false, ""));
        }
        try (TorchScriptTeacher noised = TorchScriptTeacher.load(file, 1, TeacherInput.NOISED)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> FeatureStore.encode(noised, schedule, data, 10, 0, store, new FeatureStore.Options(2, 2, Precision.FLOAT32, true, "")));
            assertTrue(e.getMessage().contains("another encoding") && e.getMessage().contains("input"), e.getMessage());
        }
    }

    @Test
    void missingPiecesAndWrongReturnsGiveClearErrors() {
        Tensor x = images(2, 4), t = torch.tensor(3L, 3L).to(ScalarType.Long);

        JitModule noShape = new JitModule(new QualifiedName("NoShape"));
        noShape.define("def forward(self, x0: Tensor, t: Tensor, noise: Tensor) -> List[Tensor]:\n    return [x0]\n");
        Path noShapeFile = save(noShape, "no-shape.pt");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TorchScriptTeacher.load(noShapeFile, 1, TeacherInput.CLEAN));
        assertTrue(e.getMessage().contains("no-shape.pt") && e.getMessage().contains("noise_shape(self, x0: Tensor) -> List[int]")
                && e.getMessage().contains("has none"), e.getMessage());

        JitModule twoArgs = new JitModule(new QualifiedName("TwoArgs"));
        twoArgs.define("def noise_shape(self, x0: Tensor) -> List[int]:\n    return [x0.size(0)]\n"
                + "def forward(self, x: Tensor, t: Tensor) -> List[Tensor]:\n    return [x]\n");
        Path twoArgsFile = save(twoArgs, "two-args.pt");
        e = assertThrows(IllegalArgumentException.class, () -> TorchScriptTeacher.load(twoArgsFile, 1, TeacherInput.CLEAN));
        assertTrue(e.getMessage().contains("forward(x0, t, noise)") && e.getMessage().contains("takes 2 arguments"), e.getMessage());

        assertCleanError("def noise_shape(self, x0: Tensor) -> int:\n    return 4\n", "[x0]", "bad-type.pt", x, "must return List[int]");
        assertCleanError("def noise_shape(self, x0: Tensor) -> List[int]:\n    return [1, 4, 6, 6]\n", "[x0]", "bad-batch.pt", x,
                "with the batch size 2 first");
        assertCleanError("def noise_shape(self, x0: Tensor) -> List[int]:\n    return [x0.size(0), 4, 0]\n", "[x0]", "empty.pt", x,
                "positive sizes");
        assertCleanError("def noise_shape(self, x0: Tensor) -> List[int]:\n    return [x0.size(0), 4]\n", "[x0.sum(1)]", "flat.pt", x,
                "(N, C, H, W)");
        assertCleanError("def noise_shape(self, x0: Tensor) -> List[int]:\n    return [x0.size(0), 4]\n", "[x0[:, :, :5, :5]]", "odd.pt", x,
                "no integer stride");

        JitModule scalar = new JitModule(new QualifiedName("Scalar"));
        scalar.define("def noise_shape(self, x0: Tensor) -> List[int]:\n    return [x0.size(0), 4]\n"
                + "def forward(self, x0: Tensor, t: Tensor, noise: Tensor) -> int:\n    return 1\n");
        try (TorchScriptTeacher teacher = TorchScriptTeacher.load(save(scalar, "scalar.pt"), 1, TeacherInput.CLEAN)) {
            e = assertThrows(IllegalArgumentException.class, () -> GaussianDiffusion.encode(teacher, NoiseSchedule.linear(TABLE), x, 3, new Noise(0)));
            assertTrue(e.getMessage().contains("forward must return tensors"), e.getMessage());
        }

        try (TorchScriptTeacher latent = TorchScriptTeacher.load(latentFile(false), 1, TeacherInput.CLEAN)) {
            // noise of the image's shape instead of the latent's, and timesteps of the wrong type
            e = assertThrows(IllegalArgumentException.class, () -> latent.featuresOfClean(x, t, torch.randn(2, 1, 12, 12)));
            assertTrue(e.getMessage().contains("[2, 4, 6, 6]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> latent.featuresOfClean(x, t.to(ScalarType.Float), torch.randn(2, 4, 6, 6)));
            assertTrue(e.getMessage().contains("int64"), e.getMessage());
            // a timestep beyond the module's own table fails inside the module, named as its forward's failure
            e = assertThrows(IllegalArgumentException.class, () -> latent.featuresOfClean(x, torch.tensor((long) TABLE, (long) TABLE).to(ScalarType.Long), torch.randn(2, 4, 6, 6)));
            assertTrue(e.getMessage().contains("forward(x0, t, noise) failed") && e.getMessage().contains("index"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> latent.features(x, t));
        }
        // The same module loaded for noised images fails on its first forward, with a hint at the other contract.
        try (TorchScriptTeacher wrong = TorchScriptTeacher.load(dir.resolve("latent.pt"), 1, TeacherInput.NOISED)) {
            e = assertThrows(IllegalArgumentException.class, () -> GaussianDiffusion.encode(wrong, NoiseSchedule.linear(TABLE), x, 3, new Noise(0)));
            assertTrue(e.getMessage().contains("forward(x, t) failed") && e.getMessage().contains("clean input contract"), e.getMessage());
        }
        e = assertThrows(IllegalArgumentException.class, () -> TeacherInput.parse("latent"));
        assertTrue(e.getMessage().contains("'noised' or 'clean'"), e.getMessage());
    }

    private void assertCleanError(String noiseShape, String returned, String name, Tensor x, String fragment) {
        JitModule m = new JitModule(new QualifiedName("Bad"));
        m.define(noiseShape + "def forward(self, x0: Tensor, t: Tensor, noise: Tensor) -> List[Tensor]:\n    return " + returned + "\n");
        try (TorchScriptTeacher teacher = TorchScriptTeacher.load(save(m, name), 1, TeacherInput.CLEAN)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GaussianDiffusion.encode(teacher, NoiseSchedule.linear(TABLE), x, 3, new Noise(0)));
            assertTrue(e.getMessage().contains(name) && e.getMessage().contains(fragment), e.getMessage());
        }
    }
}
