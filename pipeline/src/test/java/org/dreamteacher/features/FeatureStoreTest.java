package org.dreamteacher.features;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Augmentation;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.diffusion.UNet;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.distill.OnlineFeatures;
import org.dreamteacher.distill.StoredFeatures;
import org.dreamteacher.features.FeatureStore.Options;
import org.dreamteacher.features.FeatureStore.Precision;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FeatureStoreTest {
    private static final int N = 40, CHUNK = 16, T = 50;
    private static final long SEED = 7;
    /** Base 8, two levels (28 and 14), one residual block per level, taps at both resolutions. */
    private static final UNetConfig TINY = new UNetConfig(1, 1, 28, 8, List.of(1, 2), 1, List.of(), 4, 0, false, 0.0, 0, 4, List.of(0, 2));

    private static UNet teacher;
    private static NoiseSchedule schedule;
    private static ImageDataset data;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() throws IOException {
        TorchRuntime.init();
        Progress.setEnabled(false);
        torch.manual_seed(3);
        teacher = TINY.build();
        schedule = NoiseSchedule.linear(1000);
        int[] first = new int[N];
        for (int i = 0; i < N; i++) first[i] = i;
        data = FashionMnist.embeddedSubset().test().subset(first);
    }

    @AfterAll
    static void tearDown() {
        teacher.close();
        Progress.setEnabled(true);
    }

    private Path encode(String name, Precision p) throws IOException {
        Path dir = tmp.resolve(name);
        FeatureStore.encode(teacher, schedule, data, T, SEED, dir, CHUNK, p, false);
        return dir;
    }

    /** What the store should hold for images first..first+count-1: the same batch, the same noise, one forward. */
    private static List<FeatureMap> direct(int first, int count) {
        int[] idx = new int[count];
        for (int j = 0; j < count; j++) idx[j] = first + j;
        Tensor x0 = data.toTensor(idx);
        Tensor eps = FeatureStore.encodingNoise(SEED, idx, 1, 28, 28);
        Tensor t = torch.full(new long[] {count}, new Scalar(T), new TensorOptions(ScalarType.Long));
        teacher.eval();
        try (NoGradGuard ng = new NoGradGuard()) {
            return teacher.features(GaussianDiffusion.qSample(schedule, x0, t, eps), t);
        }
    }

    private static int[] range(int first, int count) {
        int[] r = new int[count];
        for (int j = 0; j < count; j++) r[j] = first + j;
        return r;
    }

    @Test
    void float32StoreHoldsExactlyTheDirectEncoding() throws IOException {
        Path dir = encode("f32", Precision.FLOAT32);
        try (FeatureStore store = FeatureStore.open(dir); PointerScope scope = new PointerScope()) {
            assertEquals(N, store.size());
            assertEquals(3, store.manifest().chunks().size());
            assertFalse(store.hasImages());
            for (int first = 0; first < N; first += CHUNK) {
                int count = Math.min(CHUNK, N - first);
                List<FeatureMap> want = direct(first, count);
                List<FeatureMap> got = store.features(range(first, count));
                assertEquals(want.size(), got.size());
                for (int i = 0; i < want.size(); i++) {
                    assertEquals(want.get(i).name(), got.get(i).name());
                    assertEquals(want.get(i).stride(), got.get(i).stride());
                    assertTrue(got.get(i).tensor().scalar_type().intern() == ScalarType.Float);
                    assertTrue(want.get(i).tensor().equal(got.get(i).tensor()), "chunk from " + first + ", tap " + want.get(i).name());
                }
            }
            // gathered across chunks, in any order, with repeats
            int[] mixed = {39, 0, 17, 17, 5, 32};
            List<FeatureMap> got = store.features(mixed);
            for (int j = 0; j < mixed.length; j++) {
                int first = mixed[j] / CHUNK * CHUNK;
                List<FeatureMap> want = direct(first, Math.min(CHUNK, N - first));
                for (int i = 0; i < want.size(); i++)
                    assertTrue(want.get(i).tensor().select(0, mixed[j] - first).equal(got.get(i).tensor().select(0, j)), "index " + mixed[j]);
            }
            // the per-image noise is the public encoding's noise: one image alone agrees up to batch-size rounding
            List<FeatureMap> alone = GaussianDiffusion.encode(teacher, schedule, data.toTensor(new int[] {21}), T, FeatureStore.imageNoise(SEED, 21));
            List<FeatureMap> stored = store.features(new int[] {21});
            for (int i = 0; i < alone.size(); i++)
                assertTrue(alone.get(i).tensor().sub(stored.get(i).tensor()).abs().max().item_double() < 1e-4);
        }
    }

    @Test
    void float16StoreHoldsTheDirectEncodingRoundedToFloat16() throws IOException {
        Path dir = encode("f16", Precision.FLOAT16);
        Path dir32 = encode("f32", Precision.FLOAT32);
        try (FeatureStore store = FeatureStore.open(dir); PointerScope scope = new PointerScope()) {
            for (int first = 0; first < N; first += CHUNK) {
                int count = Math.min(CHUNK, N - first);
                List<FeatureMap> want = direct(first, count);
                List<FeatureMap> got = store.features(range(first, count));
                for (int i = 0; i < want.size(); i++) {
                    Tensor w = want.get(i).tensor(), g = got.get(i).tensor();
                    assertTrue(w.to(ScalarType.Half).to(ScalarType.Float).equal(g), "tap " + want.get(i).name());
                    // float16 keeps 11 significant bits: relative error at most 2^-11 (plus subnormals near 0)
                    double excess = w.sub(g).abs().sub(w.abs().mul(new Scalar(Math.pow(2, -11)))).max().item_double();
                    assertTrue(excess <= 1e-7, "excess " + excess);
                }
            }
        }
        long size16 = Files.size(dir.resolve("chunk-00000.dtt")), size32 = Files.size(dir32.resolve("chunk-00000.dtt"));
        assertTrue(size16 < 0.6 * size32, size16 + " vs " + size32);
    }

    @Test
    void resumeAfterLosingTheLastChunkWritesByteIdenticalFiles() throws IOException {
        Path dir = encode("resume", Precision.FLOAT16);
        Map<String, byte[]> before = contents(dir);
        assertEquals(List.of("chunk-00000.dtt", "chunk-00001.dtt", "chunk-00002.dtt", "manifest.json"), List.copyOf(before.keySet()));

        // an interruption after chunk 1: the last chunk is gone and the manifest does not list it
        Files.delete(dir.resolve("chunk-00002.dtt"));
        ObjectNode manifest = (ObjectNode) FeatureManifest.JSON.readTree(dir.resolve("manifest.json").toFile());
        ((ArrayNode) manifest.get("chunks")).remove(2);
        Files.write(dir.resolve("manifest.json"), FeatureManifest.JSON.writeValueAsBytes(manifest));
        IOException unfinished = assertThrows(IOException.class, () -> FeatureStore.open(dir));
        assertTrue(unfinished.getMessage().contains("unfinished: 2 of 3 chunks"), unfinished.getMessage());

        FeatureStore.Summary s = FeatureStore.encode(teacher, schedule, data, T, SEED, dir, CHUNK, Precision.FLOAT16, true);
        assertEquals(1, s.encodedChunks());
        assertEquals(2, s.skippedChunks());
        assertBytesEqual(before, contents(dir));

        // a listed chunk that was damaged since is encoded again, to the same bytes
        flipByte(dir.resolve("chunk-00001.dtt"), 5000);
        s = FeatureStore.encode(teacher, schedule, data, T, SEED, dir, CHUNK, Precision.FLOAT16, true);
        assertEquals(1, s.encodedChunks());
        assertBytesEqual(before, contents(dir));
    }

    @Test
    void resumeRefusesAnotherEncodingButStartingAfreshReplacesIt() throws IOException {
        Path dir = encode("mismatch", Precision.FLOAT16);
        IllegalArgumentException seed = assertThrows(IllegalArgumentException.class,
                () -> FeatureStore.encode(teacher, schedule, data, T, SEED + 1, dir, CHUNK, Precision.FLOAT16, true));
        assertTrue(seed.getMessage().contains("seed was 7 and is now 8"), seed.getMessage());
        IllegalArgumentException t = assertThrows(IllegalArgumentException.class,
                () -> FeatureStore.encode(teacher, schedule, data, T + 1, SEED, dir, CHUNK, Precision.FLOAT16, true));
        assertTrue(t.getMessage().contains("timestep was 50 and is now 51"), t.getMessage());
        IllegalArgumentException p = assertThrows(IllegalArgumentException.class,
                () -> FeatureStore.encode(teacher, schedule, data, T, SEED, dir, CHUNK, Precision.FLOAT32, true));
        assertTrue(p.getMessage().contains("precision was \"float16\" and is now \"float32\""), p.getMessage());
        try (UNet other = TINY.build()) { // same architecture, other weights
            IllegalArgumentException w = assertThrows(IllegalArgumentException.class,
                    () -> FeatureStore.encode(other, schedule, data, T, SEED, dir, CHUNK, Precision.FLOAT16, true));
            assertTrue(w.getMessage().contains("teacher.fingerprint"), w.getMessage());
        }
        IllegalArgumentException d = assertThrows(IllegalArgumentException.class,
                () -> FeatureStore.encode(teacher, schedule, FashionMnist.embeddedSubset().test().subset(range(1, N)), T, SEED, dir, CHUNK,
                        Precision.FLOAT16, true));
        assertTrue(d.getMessage().contains("dataset.fingerprint"), d.getMessage());

        Files.write(dir.resolve("manifest.json"), "{".getBytes());
        IOException garbled = assertThrows(IOException.class,
                () -> FeatureStore.encode(teacher, schedule, data, T, SEED, dir, CHUNK, Precision.FLOAT16, true));
        assertTrue(garbled.getMessage().contains("manifest.json") && garbled.getMessage().contains("start afresh"), garbled.getMessage());

        FeatureStore.Summary s = FeatureStore.encode(teacher, schedule, data, T, SEED + 1, dir, CHUNK, Precision.FLOAT32, false);
        assertEquals(3, s.encodedChunks());
        try (FeatureStore store = FeatureStore.open(dir)) {
            assertEquals(SEED + 1, store.manifest().seed());
            assertEquals(Precision.FLOAT32, store.manifest().precision());
        }
    }

    @Test
    void brokenStoresAreRefusedNamingTheFile() throws IOException {
        Path dir = encode("broken", Precision.FLOAT16);

        Path c1 = dir.resolve("chunk-00001.dtt");
        byte[] good = Files.readAllBytes(c1);
        flipByte(c1, good.length / 2);
        assertOpenFails(dir, "chunk-00001.dtt", "corrupt: checksum mismatch");
        Files.write(c1, java.util.Arrays.copyOf(good, good.length - 100));
        assertOpenFails(dir, "chunk-00001.dtt", "truncated");
        Files.delete(c1);
        assertOpenFails(dir, "chunk-00001.dtt", "missing");
        Files.write(c1, good);
        try (FeatureStore ok = FeatureStore.open(dir)) {
            assertEquals(N, ok.size());
        }

        // a chunk of another store in its place (same shapes, other seed)
        Path other = tmp.resolve("other");
        FeatureStore.encode(teacher, schedule, data, T, SEED + 1, other, CHUNK, Precision.FLOAT16, false);
        Files.copy(other.resolve("chunk-00001.dtt"), c1, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertOpenFails(dir, "chunk-00001.dtt", "is not the");
        Files.write(c1, good);

        // a manifest edited to describe something its chunks are not
        Path m = dir.resolve("manifest.json");
        byte[] manifest = Files.readAllBytes(m);
        ObjectNode edited = (ObjectNode) FeatureManifest.JSON.readTree(manifest);
        ((ObjectNode) edited.get("identity")).put("precision", "float32");
        Files.write(m, FeatureManifest.JSON.writeValueAsBytes(edited));
        assertOpenFails(dir, "chunk-00000.dtt", "was encoded for another store");
        Files.write(m, "{\"format\": \"dreamteacher-feature-store\", ".getBytes());
        assertOpenFails(dir, "manifest.json", "unreadable JSON");
        Files.write(m, manifest);
        try (FeatureStore ok = FeatureStore.open(dir)) {
            assertEquals(3, ok.manifest().chunkCount());
        }
    }

    @Test
    void syntheticStoreHoldsSampledImagesAndTheirFeatures() throws IOException {
        UNetConfig u = new UNetConfig(1, 1, 16, 8, List.of(1, 2), 1, List.of(), 4, 0, false, 0.0, 0, 4, List.of(0, 2));
        torch.manual_seed(5);
        try (GaussianDiffusion diffusion = new DiffusionConfig(u, 100, "linear").build(); PointerScope scope = new PointerScope()) {
            Path dir = tmp.resolve("synthetic");
            FeatureStore.Summary s = FeatureStore.encodeSynthetic(diffusion, 20, 3, 10, SEED, dir, 16, Precision.FLOAT32, false);
            assertEquals(2, s.chunks());
            try (FeatureStore store = FeatureStore.open(dir)) {
                assertTrue(store.hasImages());
                assertEquals(FeatureManifest.Mode.SYNTHETIC, store.manifest().mode());
                Tensor images = store.images(range(0, 20));
                assertArrayEquals(new long[] {20, 1, 16, 16}, images.sizes().vec().get());
                assertTrue(images.abs().max().item_double() <= 1.0);
                assertTrue(images.std().item_double() > 0);
                List<FeatureMap> f = store.features(range(0, 20));
                assertEquals(2, f.size());
                assertArrayEquals(new long[] {20, 16, 8, 8}, f.get(0).tensor().sizes().vec().get());
                assertEquals(2, f.get(0).stride());
                assertArrayEquals(new long[] {20, 8, 16, 16}, f.get(1).tensor().sizes().vec().get());
                assertEquals(1, f.get(1).stride());
                // the features are the encoding of the stored images with the per-image noise
                List<FeatureMap> want = FeatureEncoder.encodeBatch(diffusion.unet(), diffusion.schedule(), store.images(range(16, 4)), range(16, 4),
                        10, SEED);
                List<FeatureMap> got = store.features(range(16, 4));
                for (int i = 0; i < want.size(); i++) assertTrue(want.get(i).tensor().equal(got.get(i).tensor()));
                // the images are the teacher's deterministic DDIM samples
                Tensor again = diffusion.sampleDdim(4, 3, 0.0, org.dreamteacher.data.SeededRandom.mix(SEED, 0x53616D706C654E7AL, 16));
                assertTrue(again.equal(store.images(range(16, 4))));
                ImageDataset generated = store.imageDataset();
                assertEquals(20, generated.size());
                assertTrue(generated.toTensor(range(0, 20)).equal(images));
            }
        }
    }

    @Test
    void storedFeaturesServeUnaugmentedBatchesAndRefuseFlippedOnes() throws IOException {
        Path dir = encode("source", Precision.FLOAT16);
        try (FeatureStore store = FeatureStore.open(dir); PointerScope scope = new PointerScope()) {
            StoredFeatures source = new StoredFeatures(store, data);
            Batches plain = Batches.of(data).batchSize(8).seed(1).build();
            for (Batches.Batch b : plain.epoch(0)) {
                List<FeatureMap> got = source.features(b, b.step());
                List<FeatureMap> want = store.features(b.indices());
                for (int i = 0; i < want.size(); i++) assertTrue(want.get(i).tensor().equal(got.get(i).tensor()));
            }
            Batches flipped = Batches.of(data).batchSize(8).seed(1).augmentation(Augmentation.flip()).build();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> {
                for (Batches.Batch b : flipped.epoch(0)) source.features(b, b.step());
            });
            assertTrue(e.getMessage().contains("Augmentation.NONE"), e.getMessage());

            IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                    () -> new StoredFeatures(store, FashionMnist.embeddedSubset().test().subset(range(1, N))));
            assertTrue(other.getMessage().contains("another dataset"), other.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new StoredFeatures(store));
        }
    }

    @Test
    void onlineFeaturesDrawTheDistillersNoise() {
        try (PointerScope scope = new PointerScope()) {
            OnlineFeatures online = new OnlineFeatures(teacher, schedule, T, SEED);
            Batches.Batch b = Batches.of(data).batchSize(8).seed(1).build().batch(0, 2);
            List<FeatureMap> got = online.features(b, 12);
            List<FeatureMap> want = GaussianDiffusion.encode(teacher, schedule, b.images(), T,
                    new org.dreamteacher.diffusion.Noise(SEED * 7_919L + 12));
            for (int i = 0; i < want.size(); i++) assertTrue(want.get(i).tensor().equal(got.get(i).tensor()));
            assertThrows(IllegalArgumentException.class, () -> new OnlineFeatures(teacher, schedule, 1000, SEED));
        }
    }

    /**
     * A chunk cut or rewritten while the store is open: a clear error naming the chunk at the next read. Through
     * the memory mapping the reads used before, the truncation killed the JVM with SIGBUS.
     */
    @Test
    void aChunkTruncatedOrRewrittenAfterOpeningIsAClearError() throws IOException {
        Path dir = encode("cut", Precision.FLOAT32);
        Path chunk = dir.resolve(FeatureManifest.chunkFileName(1));
        byte[] whole = Files.readAllBytes(chunk);
        try (FeatureStore store = FeatureStore.open(dir); PointerScope scope = new PointerScope()) {
            int[] inChunk1 = range(CHUNK, 2);
            List<FeatureMap> before = store.features(inChunk1);
            try (RandomAccessFile f = new RandomAccessFile(chunk.toFile(), "rw")) {
                f.setLength(whole.length / 3);
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> store.features(inChunk1));
            assertTrue(e.getMessage().contains(chunk.toString()) && e.getMessage().contains("truncated"), e.getMessage());
            assertTrue(e.getCause() instanceof FeatureStoreException, String.valueOf(e.getCause()));
            store.features(range(0, 2)); // the other chunks still read
            // the same length, other bytes (a later modification time)
            byte[] other = whole.clone();
            other[other.length / 2] ^= 1;
            Files.write(chunk, other);
            Files.setLastModifiedTime(chunk, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5000));
            e = assertThrows(IllegalStateException.class, () -> store.features(inChunk1));
            assertTrue(e.getMessage().contains("replaced or rewritten"), e.getMessage());
            assertTrue(before.get(0).tensor().numel() > 0);
        }
    }

    /**
     * A chunk whose header (checksum and manifest entry made to match) lists a tensor twice, or lets two tensors
     * share bytes, is refused when the store opens.
     */
    @Test
    void chunkHeadersWithRepeatedOrOverlappingTensorsAreRefused() throws IOException {
        Path dir = encode("forged-header", Precision.FLOAT32);
        Path chunk = dir.resolve(FeatureManifest.chunkFileName(0));
        byte[] good = Files.readAllBytes(chunk);
        byte[] manifest = Files.readAllBytes(dir.resolve(FeatureManifest.FILE));
        // a feature tensor moved onto the indices' bytes (same dtype and shape as before, inside the file)
        forgeChunk(dir, chunk, good, manifest, tensors -> {
            ObjectNode indices = null, feature = null;
            for (var t : tensors) {
                ObjectNode o = (ObjectNode) t;
                if (o.path("name").asText().equals(ChunkFile.INDICES)) indices = o;
                else if (o.path("name").asText().startsWith(ChunkFile.FEATURE_PREFIX) && feature == null) feature = o;
            }
            feature.put("offset", indices.path("offset").asLong());
        });
        assertOpenFails(dir, chunk.getFileName().toString(), "overlaps another tensor's bytes");
        // the indices listed twice
        forgeChunk(dir, chunk, good, manifest, tensors -> {
            for (var t : tensors)
                if (t.path("name").asText().equals(ChunkFile.INDICES)) {
                    tensors.add(t.deepCopy());
                    break;
                }
        });
        assertOpenFails(dir, chunk.getFileName().toString(), "twice");
        Files.write(chunk, good);
        Files.write(dir.resolve(FeatureManifest.FILE), manifest);
        FeatureStore.open(dir).close();
    }

    /** Rewrites chunk's header with {@code edit}, a fresh CRC32C, and the manifest's entry to match. */
    private static void forgeChunk(Path dir, Path chunk, byte[] good, byte[] manifest, java.util.function.Consumer<ArrayNode> edit) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(good).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) b.getLong(16);
        ObjectNode header = (ObjectNode) FeatureManifest.JSON.readTree(java.util.Arrays.copyOfRange(good, 24, 24 + headerLength));
        edit.accept((ArrayNode) header.get("tensors"));
        byte[] h = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(header);
        int payload = good.length - 4 - 24 - headerLength;
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(24 + h.length + payload + 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        out.put(good, 0, 16).putLong(h.length).put(h).put(good, 24 + headerLength, payload);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(out.array(), 0, out.position());
        out.putInt((int) crc.getValue());
        Files.write(chunk, out.array());
        ObjectNode m = (ObjectNode) FeatureManifest.JSON.readTree(manifest);
        for (var c : m.get("chunks"))
            if (c.path("file").asText().equals(chunk.getFileName().toString()))
                ((ObjectNode) c).put("bytes", out.capacity()).put("crc32c", java.util.HexFormat.of().toHexDigits((int) crc.getValue()));
        Files.write(dir.resolve(FeatureManifest.FILE), FeatureManifest.JSON.writeValueAsBytes(m));
    }

    @Test
    void closedStoresRefuseReads() throws IOException {
        Path dir = encode("closed", Precision.FLOAT32);
        FeatureStore store = FeatureStore.open(dir, false);
        store.close();
        store.close();
        assertThrows(IllegalStateException.class, () -> store.features(new int[] {0}));
        assertThrows(IllegalArgumentException.class,
                () -> FeatureStore.encode(teacher, schedule, data, T, SEED, tmp.resolve("x"), new Options(0, 8, Precision.FLOAT16, false, "")));
    }

    private static void assertOpenFails(Path dir, String file, String problem) {
        IOException e = assertThrows(IOException.class, () -> FeatureStore.open(dir).close());
        assertTrue(e.getMessage().contains(file) && e.getMessage().contains(problem), e.getMessage());
    }

    private static void flipByte(Path file, long position) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(position);
            int b = f.read();
            f.seek(position);
            f.write(b ^ 0x40);
        }
    }

    private static Map<String, byte[]> contents(Path dir) throws IOException {
        Map<String, byte[]> m = new TreeMap<>();
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) m.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        return m;
    }

    private static void assertBytesEqual(Map<String, byte[]> want, Map<String, byte[]> got) {
        assertEquals(want.keySet(), got.keySet());
        List<String> differing = new ArrayList<>();
        for (String k : want.keySet()) if (!java.util.Arrays.equals(want.get(k), got.get(k))) differing.add(k);
        assertEquals(List.of(), differing);
    }
}
