package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;
import java.util.zip.GZIPOutputStream;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureRegressorConfig;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Untrusted files with forged headers that claim huge sizes, one of each kind the library reads (IDX, PNG, JPEG,
 * tensor file, model checkpoints, feature-store manifest and chunk), read in a child JVM with a 64 MB heap
 * ({@link ForgedInputsCheck}): each must be refused with a clear error, never an out-of-memory. And a damaged
 * training run (optimiser state, training state, checkpoint weights) must stop {@code --resume} with a one-line
 * error naming the file.
 */
class UntrustedInputsTest {
    @TempDir
    static Path dir;
    static Path teacher;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void setUp() throws Exception {
        Progress.setEnabled(false);
        teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
    }

    @Test
    void forgedHugeHeadersAreRefusedInASmallHeap() throws Exception {
        Path f = dir.resolve("forged");
        Files.createDirectories(f);
        // IDX: 2.1 GB of pixels claimed by a 100-byte file, raw and gzipped; over the element limit; overflowing.
        byte[] huge = concat(idxHeader(8, (Integer.MAX_VALUE - 8) / 784, 28, 28), new byte[84]);
        Files.write(f.resolve("huge.idx"), huge);
        Files.write(f.resolve("huge.idx.gz"), gzip(huge));
        Files.write(f.resolve("limit.idx"), concat(idxHeader(8, 65536, 65536), new byte[8]));
        Files.write(f.resolve("overflow.idx"), concat(idxHeader(8, Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE), new byte[8]));
        // Pictures: a PNG of 100,000 x 100,000 (over the pixel limit), one of 5,000 x 5,000 (under it, but 75 MB
        // decoded: more than the child's heap), and a JPEG of 65,000 x 65,000.
        Files.createDirectories(f.resolve("png"));
        Files.write(f.resolve("png").resolve("huge.png"), png(100_000, 100_000));
        Files.createDirectories(f.resolve("png-heap"));
        Files.write(f.resolve("png-heap").resolve("large.png"), png(5_000, 5_000));
        Files.createDirectories(f.resolve("jpeg"));
        Files.write(f.resolve("jpeg").resolve("huge.jpg"), jpegHeader(65_000, 65_000));
        // A tensor file with a valid checksum whose header claims a 4 TB tensor.
        Files.write(f.resolve("huge-tensor.dtt"), tensorFile(JsonNodeFactory.instance.objectNode(), List.of(
                entry("x", "float32", new long[] {1_000_000_000L, 1000}, 0, 4_000_000_000_000L)), new byte[8]));
        // Checkpoints whose configs claim models of gigabytes around a few kilobytes of weights.
        forgeCheckpoint(f.resolve("resnet-forged.dtt"), ResNetConfig.small(18, 2, 1, 0).build(), c -> c.put("depth", 50).put("width", 4096));
        forgeCheckpoint(f.resolve("regressor-forged.dtt"), FeatureRegressorConfig.of(new long[] {4}, new long[] {4}, 4).build(),
                c -> c.put("channels", 65536));
        try (ConfiguredModule t = Checkpoints.load(teacher)) {
            forgeCheckpoint(f.resolve("teacher-forged.dtt"), t, c -> {
                ObjectNode u = (ObjectNode) c.get("unet");
                u.put("baseChannels", 2048);
                ArrayNode mult = u.putArray("channelMult");
                for (int m : new int[] {1, 2, 2}) mult.add(m);
            });
        }
        // Feature stores: a manifest claiming 2^31 - 1 images, one with a tap of 2^31 - 1 channels, and a chunk
        // whose header (checksum and manifest entry made to match) claims a feature tensor of 2^40 channels.
        Path store = dir.resolve("store");
        ImageDataset eight = FashionMnist.embeddedSubset().train().subset(new int[] {0, 1, 2, 3, 4, 5, 6, 7});
        try (GaussianDiffusion d = (GaussianDiffusion) Checkpoints.load(teacher)) {
            FeatureStore.encode(d.unet(), d.schedule(), eight, 10, 0, store, 4, FeatureStore.Precision.FLOAT16, false);
        }
        ObjectNode manifest = (ObjectNode) JSON.readTree(store.resolve("manifest.json").toFile());
        copyStore(store, f.resolve("store-size"), m -> ((ObjectNode) m.get("identity")).put("size", Integer.MAX_VALUE), manifest);
        copyStore(store, f.resolve("store-tap"), m -> ((ObjectNode) m.get("identity").get("taps").get(0)).put("channels", Integer.MAX_VALUE),
                manifest);
        Path forgedChunk = f.resolve("store-chunk");
        copyStore(store, forgedChunk, m -> {}, manifest);
        TensorFile.Contents real = TensorFile.read(store.resolve("chunk-00000.dtt"));
        String tap = manifest.get("identity").get("taps").get(0).get("name").asText();
        ByteBuffer indices = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < 4; i++) indices.putLong(i);
        byte[] payload = concat(indices.array(), new byte[8]);
        byte[] chunk = tensorFile(real.meta(), List.of(entry("indices", "int64", new long[] {4}, 0, 32),
                entry("features/" + tap, "float16", new long[] {4, 1L << 40, 1, 1}, 32, 8)), payload);
        Files.write(forgedChunk.resolve("chunk-00000.dtt"), chunk);
        ObjectNode m = (ObjectNode) JSON.readTree(forgedChunk.resolve("manifest.json").toFile());
        ObjectNode c0 = (ObjectNode) m.get("chunks").get(0);
        c0.put("bytes", chunk.length);
        c0.put("crc32c", HexFormat.of().toHexDigits(ByteBuffer.wrap(chunk, chunk.length - 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt()));
        Files.write(forgedChunk.resolve("manifest.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));

        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m"));
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        cmd.addAll(List.of("-cp", classPath, ForgedInputsCheck.class.getName(), f.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the check did not end");
        System.out.print(out);
        assertEquals(0, p.exitValue(), out);
        assertEquals(14, out.lines().filter(l -> l.startsWith("ok ")).count(), out);
        assertFalse(out.contains("OutOfMemoryError"), out);
    }

    @Test
    void aDamagedRunStopsResumeWithOneLine() throws Exception {
        Path out = dir.resolve("run");
        String[] args = {"distill", "--teacher", teacher.toString(), "--batch", "4", "--width", "8", "--regressor-channels", "16",
            "--checkpoint-every", "2", "--out", out.toString()};
        run(CliCommandsTest.concat(args, "--steps", "4")).expectSuccess();
        Path last = out.resolve("checkpoints").resolve("step-00000004");
        String[] resume = CliCommandsTest.concat(args, "--resume", "--steps", "6");
        for (String file : List.of("adamw.optim", "backbone.dtt", "regressor.dtt", "state.json")) {
            Path p = last.resolve(file);
            byte[] good = Files.readAllBytes(p);
            for (String damage : List.of("truncated", "garbage")) {
                byte[] bad = damage.equals("truncated") ? java.util.Arrays.copyOf(good, good.length / 2) : new byte[good.length];
                if (damage.equals("garbage")) new java.util.Random(1).nextBytes(bad);
                Files.write(p, bad);
                CliRun r = run(resume);
                System.out.println(file + " " + damage + ": " + r.err().strip());
                r.expectOneLineError(1, file);
            }
            Files.write(p, good);
        }
        run(resume).expectSuccess();
    }

    interface Edit {
        void apply(ObjectNode node);
    }

    static void forgeCheckpoint(Path file, ConfiguredModule model, Edit editConfig) throws IOException {
        Path real = dir.resolve("real-" + file.getFileName());
        try (model) {
            Checkpoints.save(real, model);
        }
        TensorFile.Contents c = TensorFile.read(real);
        ObjectNode meta = c.meta().deepCopy();
        editConfig.apply((ObjectNode) meta.get("config"));
        TensorFile.write(file, meta, c.tensors());
        for (Tensor t : c.tensors().values()) t.close();
    }

    static void copyStore(Path from, Path to, Edit editManifest, ObjectNode manifest) throws IOException {
        Files.createDirectories(to);
        try (var s = Files.list(from)) {
            for (Path p : (Iterable<Path>) s::iterator) Files.copy(p, to.resolve(p.getFileName()));
        }
        ObjectNode m = manifest.deepCopy();
        editManifest.apply(m);
        Files.write(to.resolve("manifest.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));
    }

    static ObjectNode entry(String name, String dtype, long[] shape, long offset, long bytes) {
        ObjectNode e = JsonNodeFactory.instance.objectNode();
        e.put("name", name).put("dtype", dtype);
        ArrayNode s = e.putArray("shape");
        for (long v : shape) s.add(v);
        return e.put("offset", offset).put("bytes", bytes);
    }

    /** A tensor file laid out by hand, with a valid checksum. */
    static byte[] tensorFile(JsonNode meta, List<ObjectNode> tensors, byte[] payload) throws IOException {
        ObjectNode header = JsonNodeFactory.instance.objectNode();
        header.set("meta", meta);
        header.putArray("tensors").addAll(tensors);
        byte[] h = JSON.writeValueAsBytes(header);
        ByteBuffer b = ByteBuffer.allocate(24 + h.length + payload.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put("DTTENSOR".getBytes(StandardCharsets.US_ASCII)).putInt(TensorFile.FORMAT_VERSION).putInt(0).putLong(h.length).put(h).put(payload);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    static byte[] idxHeader(int type, int... dims) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length);
        b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) dims.length);
        for (int d : dims) b.putInt(d);
        return b.array();
    }

    /** A PNG whose header declares w x h RGB pixels, with a tiny (empty) image stream. */
    static byte[] png(int w, int h) {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        png.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10});
        pngChunk(png, "IHDR", ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0).array());
        pngChunk(png, "IDAT", new byte[] {0x78, (byte) 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
        pngChunk(png, "IEND", new byte[0]);
        return png.toByteArray();
    }

    static void pngChunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    /** A baseline JPEG header (SOI, SOF0 with three components, SOS) declaring w x h, then EOI: no tables, no data. */
    static byte[] jpegHeader(int w, int h) {
        ByteBuffer b = ByteBuffer.allocate(2 + 19 + 14 + 2);
        b.put((byte) 0xFF).put((byte) 0xD8);
        b.put((byte) 0xFF).put((byte) 0xC0).putShort((short) 17).put((byte) 8).putShort((short) h).putShort((short) w).put((byte) 3);
        for (int c = 1; c <= 3; c++) b.put((byte) c).put((byte) 0x11).put((byte) 0);
        b.put((byte) 0xFF).put((byte) 0xDA).putShort((short) 12).put((byte) 3);
        for (int c = 1; c <= 3; c++) b.put((byte) c).put((byte) 0x00);
        b.put((byte) 0).put((byte) 63).put((byte) 0);
        b.put((byte) 0xFF).put((byte) 0xD9);
        return b.array();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(raw);
        }
        return bytes.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }
}
