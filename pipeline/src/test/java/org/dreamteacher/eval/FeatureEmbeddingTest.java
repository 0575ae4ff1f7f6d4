package org.dreamteacher.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.NpyFiles;
import org.dreamteacher.eval.FeatureEmbedding.Level;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.ConvNeXtConfig;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.FeatureRegressorConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FeatureEmbeddingTest {
    /** 23 images in batches of 5: the last batch is short. */
    private static final int N = 23, BATCH = 5;

    @TempDir
    Path dir;

    @BeforeAll
    static void setUp() {
        EvalTests.setUp();
    }

    @AfterAll
    static void restore() {
        EvalTests.restore();
    }

    private static ImageDataset images() {
        int[] first = new int[N];
        Arrays.setAll(first, i -> i);
        return EvalTests.fashion().test().subset(first);
    }

    /**
     * The reference: every image in one forward, each level pooled by hand, the levels side by side; (N, C) as
     * rows of floats.
     */
    private static float[][] direct(ConfiguredModule m, ImageDataset data, List<Integer> levels) {
        Backbone b = (Backbone) m;
        m.eval();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            List<FeatureMap> maps = b.features(data.toTensor(data.allIndices()));
            List<float[]> parts = new ArrayList<>();
            int width = 0;
            for (int level : levels) {
                Tensor t = maps.get(level).tensor();
                long c = t.size(1), hw = t.size(2) * t.size(3);
                float[] all = new float[Math.toIntExact(t.numel())];
                t.contiguous().data_ptr_float().get(all);
                float[] pooled = new float[Math.toIntExact(data.size() * c)];
                for (int i = 0; i < data.size(); i++)
                    for (int k = 0; k < c; k++) {
                        double sum = 0;
                        for (int p = 0; p < hw; p++) sum += all[(int) ((i * c + k) * hw + p)];
                        pooled[(int) (i * c + k)] = (float) (sum / hw);
                    }
                parts.add(pooled);
                width += (int) c;
            }
            float[][] rows = new float[data.size()][width];
            int at = 0;
            for (int j = 0; j < parts.size(); j++) {
                int c = parts.get(j).length / data.size();
                for (int i = 0; i < data.size(); i++) System.arraycopy(parts.get(j), i * c, rows[i], at, c);
                at += c;
            }
            return rows;
        }
    }

    /** Asserts that the file's rows are the reference's within 1e-6 (relative to values above 1). */
    private static void assertRows(float[][] expected, NpyFiles.Npy npy) {
        assertArrayEquals(new long[] {expected.length, expected[0].length}, npy.shape());
        float[] got = npy.floats();
        double worst = 0;
        for (int i = 0; i < expected.length; i++)
            for (int k = 0; k < expected[i].length; k++) {
                float e = expected[i][k], g = got[i * expected[i].length + k];
                assertTrue(Float.isFinite(g), "row " + i + " column " + k + " is " + g);
                worst = Math.max(worst, Math.abs(e - g) / Math.max(1, Math.abs(e)));
            }
        assertTrue(worst <= 1e-6, "largest difference " + worst);
    }

    @Test
    void c5AndAllMatchTheBackboneAndTheProbe() throws Exception {
        ImageDataset data = images();
        torch.manual_seed(11);
        try (ConfiguredModule m = EvalTests.smallResNet().build()) {
            m.train(true); // the embedding must switch to eval mode itself
            long[] ch = ((Backbone) m).featureChannels();

            Path c5 = dir.resolve("c5.npy");
            FeatureEmbedding.Result r = FeatureEmbedding.write(m, data, Level.C5, BATCH, c5);
            assertFalse(m.is_training(), "frozen: eval mode");
            assertEquals(new FeatureEmbedding.Result(c5, dir.resolve("c5.labels.npy"), N, ch[3], r.seconds()), r);
            NpyFiles.Npy c5File = NpyFiles.read(c5);
            assertRows(direct(m, data, List.of(3)), c5File);

            // The probe's own features, same batches: bit for bit.
            try (Tensor probe = Classifier.pooledFeatures(m, data, data.allIndices(), BATCH, "probe")) {
                float[] p = new float[Math.toIntExact(probe.numel())];
                probe.contiguous().data_ptr_float().get(p);
                assertArrayEquals(p, c5File.floats());
            }

            long[] labels = NpyFiles.read(r.labels()).longs();
            assertArrayEquals(Arrays.stream(data.labels()).asLongStream().toArray(), labels);
            assertEquals(N, labels.length);

            Path all = dir.resolve("all.npy");
            r = FeatureEmbedding.write(m, data, Level.ALL, BATCH, all);
            assertEquals(ch[0] + ch[1] + ch[2] + ch[3], r.columns());
            NpyFiles.Npy allFile = NpyFiles.read(all);
            assertRows(direct(m, data, List.of(0, 1, 2, 3)), allFile);
            // Its last columns are C5, exactly as the c5 file has them.
            float[] a = allFile.floats(), c = c5File.floats();
            for (int i = 0; i < N; i++)
                assertArrayEquals(Arrays.copyOfRange(c, (int) (i * ch[3]), (int) ((i + 1) * ch[3])),
                        Arrays.copyOfRange(a, (int) ((i + 1) * r.columns() - ch[3]), (int) ((i + 1) * r.columns())), "row " + i);
            assertEquals(List.of("all.labels.npy", "all.npy", "c5.labels.npy", "c5.npy"), names());
        }
    }

    @Test
    void aSingleInnerLevelOfAConvNeXt() throws Exception {
        ImageDataset data = images();
        torch.manual_seed(12);
        try (ConfiguredModule m = ConvNeXtConfig.of(List.of(1, 1, 1, 1), List.of(16, 32, 48, 64), 1, 0, 1).build()) {
            Path out = dir.resolve("c3.npy");
            FeatureEmbedding.Result r = FeatureEmbedding.write(m, data, Level.C3, BATCH, out);
            assertEquals(32, r.columns());
            assertRows(direct(m, data, List.of(1)), NpyFiles.read(out));
        }
    }

    @Test
    void unlabelledImagesGiveNoLabelsFile() throws Exception {
        ImageDataset labelled = images();
        byte[] pixels = new byte[N * 28 * 28];
        for (int i = 0; i < N; i++) labelled.copyImageBytes(i, pixels, i * 28 * 28);
        ImageDataset data = ImageDataset.ofBytes(pixels, N, 1, 28, 28);
        torch.manual_seed(13);
        try (ConfiguredModule m = EvalTests.cheapResNet().build()) {
            Path out = dir.resolve("sub").resolve("f.npy");
            FeatureEmbedding.Result r = FeatureEmbedding.write(m, data, Level.C2, 7, out);
            assertNull(r.labels());
            assertRows(direct(m, data, List.of(0)), NpyFiles.read(out));
            assertEquals(List.of(out), Files.list(out.getParent()).toList());
        }
    }

    @Test
    void aFailureLeavesNoFiles() throws Exception {
        // 2 x 2 images are smaller than the 4 x 4 patchify stem: the first forward fails after the files were opened.
        ImageDataset tiny = ImageDataset.ofBytes(new byte[N * 4], N, 1, 2, 2, new int[N], 1, List.of());
        torch.manual_seed(14);
        Path out = dir.resolve("f.npy");
        try (ConfiguredModule m = ConvNeXtConfig.of(List.of(1, 1, 1, 1), List.of(16, 32, 48, 64), 1, 0, 4).build()) {
            assertThrows(RuntimeException.class, () -> FeatureEmbedding.write(m, tiny, Level.C5, BATCH, out));
            assertEquals(List.of(), names(), "no temporary files are left");

            ImageDataset rgb = ImageDataset.ofBytes(new byte[N * 3 * 4], N, 3, 2, 2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FeatureEmbedding.write(m, rgb, Level.C5, BATCH, out));
            assertTrue(e.getMessage().contains("3 channels"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> FeatureEmbedding.write(m, images(), Level.C5, 0, out));
        }
        try (ConfiguredModule regressor = FeatureRegressorConfig.of(new long[] {4, 8, 16, 32}, new long[] {8, 8, 8, 8}, 8).build()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FeatureEmbedding.backbone(regressor, "r.dtt"));
            assertTrue(e.getMessage().contains("r.dtt holds a 'regressor' model, not a backbone"), e.getMessage());
        }
        assertEquals(List.of(), names());
    }

    @Test
    void levelsAndLabelFiles() {
        assertEquals(Level.C2, Level.parse("c2"));
        assertEquals(Level.ALL, Level.parse(" ALL "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Level.parse("c6"));
        assertTrue(e.getMessage().contains("c2, c3, c4, c5 or all"), e.getMessage());
        assertEquals(Path.of("out", "x.labels.npy"), FeatureEmbedding.labelsFile(Path.of("out", "x.npy")));
        assertEquals(Path.of("x.labels.npy"), FeatureEmbedding.labelsFile(Path.of("x.NPY")));
    }

    private List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Features of images from a source are those of the same images from a dataset, batch by batch. */
    @Test
    void pooledFeaturesOfAnImageSource() {
        ImageDataset data = images();
        try (ConfiguredModule m = EvalTests.cheapResNet().build(); PointerScope scope = new PointerScope()) {
            Tensor expected = Classifier.pooledFeatures(m, data, data.allIndices(), BATCH, "dataset");
            List<Integer> starts = new ArrayList<>();
            Tensor got = FeatureEmbedding.pooledFeatures(m, (from, count) -> {
                starts.add(from);
                int[] idx = new int[count];
                Arrays.setAll(idx, j -> from + j);
                return data.toTensor(idx);
            }, N, BATCH, "source");
            assertEquals(List.of(0, 5, 10, 15, 20), starts);
            assertTrue(torch.equal(expected, got), "the same features, bit for bit: the same batches through the same call");
            assertThrows(IllegalArgumentException.class, () -> FeatureEmbedding.pooledFeatures(m, (from, count) -> torch.zeros(count, 3, 28, 28), 4, 2, "rgb"));
            assertThrows(IllegalArgumentException.class, () -> FeatureEmbedding.pooledFeatures(m, (from, count) -> data.toTensor(new int[] {0}), 4, 2, "short"));
        }
    }
}
