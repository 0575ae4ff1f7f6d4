package org.dreamteacher.features;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import org.dreamteacher.features.FeatureStore.Precision;
import org.dreamteacher.nn.TeacherInput;
import org.dreamteacher.torch.AtomicWrite;

/**
 * The {@code manifest.json} of a feature store: what made the features (the "identity": teacher, schedule,
 * timestep, seed, precision, data, chunking) and which chunks are finished, each with its size and checksum.
 *
 * <p>The identity is what a resumed encoding must agree with: chunks made under another teacher or seed would
 * silently mix two different datasets, so {@link #requireSameIdentity} refuses them field by field. The
 * chunk list is the commit log: a chunk counts as done only once the manifest listing it has been renamed
 * into place, so a crash between writing a chunk and listing it costs that chunk, never consistency. The
 * manifest carries no timestamps, so an interrupted and resumed encoding ends with the same bytes as an
 * uninterrupted one.
 */
public final class FeatureManifest {
    /** The manifest's file name inside a store's folder. */
    public static final String FILE = "manifest.json";
    /** Layout version of the manifest and of the chunk files it describes. */
    public static final int VERSION = 1;
    static final String FORMAT = "dreamteacher-feature-store";
    /** The largest manifest a reader accepts (one chunk's entry is about 150 bytes). */
    static final long MAX_BYTES = 64L << 20;
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * How the images and features were obtained: real images from a dataset encoded by the teacher, samples drawn
     * from a diffusion teacher and encoded, or images drawn from a GAN generator with the features it computed
     * while drawing them.
     */
    public enum Mode {
        ENCODED, SYNTHETIC, GENERATED;

        String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        static Mode of(String key) {
            for (Mode m : values()) if (m.key().equals(key)) return m;
            return null;
        }
    }

    /** One stored teacher feature map: its name, channels, stride and spatial size. */
    public record Tap(String name, int channels, int stride, int height, int width) {
        long valuesPerImage() {
            return (long) channels * height * width;
        }
    }

    /**
     * One finished chunk: images {@code first .. first + count - 1} in {@code file}, which is {@code bytes}
     * long and ends with the CRC32C {@code crc32c} (hex) of everything before it.
     */
    public record Chunk(int index, String file, int first, int count, long bytes, String crc32c) {}

    private final ObjectNode identity;
    private final String teacherSource;
    private final List<Chunk> chunks;

    FeatureManifest(ObjectNode identity, String teacherSource, List<Chunk> chunks) {
        this.identity = normalised(identity);
        this.teacherSource = teacherSource;
        this.chunks = List.copyOf(chunks);
    }

    /** The same manifest with another chunk list (sorted by index). */
    FeatureManifest withChunks(List<Chunk> newChunks) {
        List<Chunk> sorted = new ArrayList<>(newChunks);
        sorted.sort((a, b) -> Integer.compare(a.index(), b.index()));
        return new FeatureManifest(identity, teacherSource, sorted);
    }

    /** The chunk file name of chunk {@code k}. */
    public static String chunkFileName(int k) {
        return String.format("chunk-%05d.dtt", k);
    }

    public Mode mode() {
        return Mode.of(identity.path("mode").asText());
    }

    /** Number of images in the store. */
    public int size() {
        return identity.path("size").asInt();
    }

    public int chunkSize() {
        return identity.path("chunkSize").asInt();
    }

    /** Number of chunks a complete store has. */
    public int chunkCount() {
        return (int) (((long) size() + chunkSize() - 1) / chunkSize());
    }

    /** Number of images chunk {@code k} holds. */
    public int chunkLength(int k) {
        return (int) Math.min(chunkSize(), size() - (long) k * chunkSize());
    }

    public int batchSize() {
        return identity.path("batchSize").asInt();
    }

    public Precision precision() {
        return Precision.of(identity.path("precision").asText());
    }

    /** The noise level the images were encoded at; -1 for a generated store, whose features involve no noising. */
    public int timestep() {
        return identity.path("timestep").asInt(-1);
    }

    public long seed() {
        return identity.path("seed").asLong();
    }

    /** Image channels, height and width. */
    public int[] imageShape() {
        JsonNode i = identity.path("image");
        return new int[] {i.path("channels").asInt(), i.path("height").asInt(), i.path("width").asInt()};
    }

    /** Whether the chunks hold the images too (synthetic and generated stores). */
    public boolean hasImages() {
        return identity.path("images").asBoolean();
    }

    /** Class, kind, config and weight fingerprint of the teacher. */
    public JsonNode teacher() {
        return identity.path("teacher").deepCopy();
    }

    /** What the teacher's forward received: clean images when the identity says so, else images noised in pixel space. */
    public TeacherInput teacherInput() {
        JsonNode i = identity.path("teacher").path("input");
        return i.isMissingNode() ? TeacherInput.NOISED : TeacherInput.parse(i.asText());
    }

    /** Where the teacher came from (a checkpoint path, say), as the encoder was told; informative only. */
    public String teacherSource() {
        return teacherSource;
    }

    /** The dataset's fingerprint (encoded stores), or null. */
    public String datasetFingerprint() {
        JsonNode f = identity.path("dataset").path("fingerprint");
        return f.isTextual() ? f.asText() : null;
    }

    public List<Tap> taps() {
        List<Tap> taps = new ArrayList<>();
        for (JsonNode t : identity.path("taps"))
            taps.add(new Tap(t.path("name").asText(), t.path("channels").asInt(), t.path("stride").asInt(), t.path("height").asInt(),
                    t.path("width").asInt()));
        return Collections.unmodifiableList(taps);
    }

    /** The finished chunks, by index. */
    public List<Chunk> chunks() {
        return chunks;
    }

    public boolean isComplete() {
        return chunks.size() == chunkCount();
    }

    /** The identity block (a copy). */
    public ObjectNode identity() {
        return identity.deepCopy();
    }

    /** A short hash of the identity, written into every chunk so that a chunk can be traced to its store. */
    String identityHash() {
        return sha256Hex(canonical(identity)).substring(0, 16);
    }

    /**
     * Throws unless {@code other} describes the same encoding; the message names the first differing field and
     * both values, so that the user can tell a changed teacher from a changed seed.
     */
    void requireSameIdentity(ObjectNode other, Path dir) {
        String diff = firstDifference("", identity, normalised(other));
        if (diff != null)
            throw new IllegalArgumentException(dir.resolve(FILE) + " describes another encoding: " + diff
                    + ". Resume only with the same teacher, data and settings, or start afresh (resume = false overwrites it)");
    }

    private static String firstDifference(String path, JsonNode saved, JsonNode now) {
        if (saved.isObject() && now.isObject()) {
            List<String> names = new ArrayList<>();
            saved.fieldNames().forEachRemaining(names::add);
            now.fieldNames().forEachRemaining(n -> {
                if (!names.contains(n)) names.add(n);
            });
            for (String n : names) {
                String d = firstDifference(path.isEmpty() ? n : path + "." + n, saved.path(n), now.path(n));
                if (d != null) return d;
            }
            return null;
        }
        if (saved.equals(now)) return null;
        return path + " was " + abbreviate(saved) + " and is now " + abbreviate(now);
    }

    private static String abbreviate(JsonNode n) {
        String s = n.isMissingNode() ? "(absent)" : n.toString();
        return s.length() > 120 ? s.substring(0, 117) + "..." : s;
    }

    ObjectNode toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("version", VERSION);
        root.set("identity", identity.deepCopy());
        root.put("teacherSource", teacherSource == null ? "" : teacherSource);
        ArrayNode list = root.putArray("chunks");
        for (Chunk c : chunks) {
            ObjectNode n = list.addObject();
            n.put("index", c.index());
            n.put("file", c.file());
            n.put("first", c.first());
            n.put("count", c.count());
            n.put("bytes", c.bytes());
            n.put("crc32c", c.crc32c());
        }
        return root;
    }

    /** Writes {@code dir/manifest.json} atomically (temporary file, fsync, rename). */
    void write(Path dir) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(toJson());
        AtomicWrite.write(dir.resolve(FILE), ch -> AtomicWrite.writeFully(ch, ByteBuffer.wrap(bytes)));
    }

    /** Reads and checks {@code dir/manifest.json}; every error names the file. */
    public static FeatureManifest read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) throw new FeatureStoreException(file, "no such file: not a feature store (or one whose encoding never started)");
        long size = Files.size(file);
        if (size > MAX_BYTES)
            throw new FeatureStoreException(file, size + " bytes, more than the " + MAX_BYTES + " a manifest may have: corrupt or forged");
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw new FeatureStoreException(file, "unreadable JSON: " + e.getOriginalMessage());
        }
        try {
            return parse(file, root);
        } catch (RuntimeException e) {
            throw new FeatureStoreException(file, "malformed manifest: " + e, e);
        }
    }

    private static FeatureManifest parse(Path file, JsonNode root) throws FeatureStoreException {
        if (root == null || !root.isObject() || !FORMAT.equals(root.path("format").asText()))
            throw new FeatureStoreException(file, "not a feature store manifest (format is not \"" + FORMAT + "\")");
        if (root.path("version").asInt(-1) != VERSION)
            throw new FeatureStoreException(file, "manifest version " + root.path("version") + " (this library reads " + VERSION + ")");
        if (!(root.path("identity") instanceof ObjectNode identity)) throw new FeatureStoreException(file, "no identity block");
        FeatureManifest m = new FeatureManifest(identity, root.path("teacherSource").asText(""), List.of());
        m.checkIdentity(file);
        JsonNode list = root.path("chunks");
        if (!list.isArray()) throw new FeatureStoreException(file, "no chunk list");
        List<Chunk> chunks = new ArrayList<>();
        // A set of the listed chunks, not an array of chunkCount flags: a forged size must not allocate gigabytes.
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        int chunkCount = m.chunkCount();
        for (JsonNode n : list) {
            int k = n.path("index").asInt(-1);
            if (k < 0 || k >= chunkCount) throw new FeatureStoreException(file, "chunk index " + n.path("index") + " outside 0.." + (chunkCount - 1));
            if (!seen.add(k)) throw new FeatureStoreException(file, "chunk " + k + " is listed twice");
            Chunk c = new Chunk(k, n.path("file").asText(""), n.path("first").asInt(-1), n.path("count").asInt(-1), n.path("bytes").asLong(-1),
                    n.path("crc32c").asText(""));
            if (!c.file().equals(chunkFileName(k)) || c.first() != (long) k * m.chunkSize() || c.count() != m.chunkLength(k) || c.bytes() <= 0
                    || !c.crc32c().matches("[0-9a-f]{8}"))
                throw new FeatureStoreException(file, "entry of chunk " + k + " is inconsistent with the chunking (" + n + ")");
            chunks.add(c);
        }
        return m.withChunks(chunks);
    }

    /** Checks that the identity holds every field the reader relies on, with sane values. */
    private void checkIdentity(Path file) throws FeatureStoreException {
        if (mode() == null) throw new FeatureStoreException(file, "unknown mode " + identity.path("mode"));
        if (precision() == null) throw new FeatureStoreException(file, "unknown precision " + identity.path("precision"));
        if (size() < 1 || chunkSize() < 1 || batchSize() < 1)
            throw new FeatureStoreException(file, "size, chunkSize and batchSize must be positive");
        for (int v : imageShape()) if (v < 1) throw new FeatureStoreException(file, "bad image shape");
        JsonNode input = identity.path("teacher").path("input");
        if (!input.isMissingNode() && !(input.isTextual() && input.asText().equals(TeacherInput.CLEAN.key())))
            throw new FeatureStoreException(file, "unknown teacher input " + input);
        List<Tap> taps = taps();
        if (taps.isEmpty()) throw new FeatureStoreException(file, "no taps");
        List<String> names = new ArrayList<>();
        for (Tap t : taps) {
            if (t.name().isEmpty() || names.contains(t.name())) throw new FeatureStoreException(file, "missing or repeated tap name");
            if (t.channels() < 1 || t.stride() < 1 || t.height() < 1 || t.width() < 1)
                throw new FeatureStoreException(file, "tap '" + t.name() + "' has a bad shape");
            names.add(t.name());
        }
    }

    /**
     * The identity as it reads back from JSON: a long 0 and an int 0 are different Jackson nodes, so a
     * freshly built identity would never equal the saved one without this round trip.
     */
    private static ObjectNode normalised(ObjectNode n) {
        try {
            return (ObjectNode) JSON.readTree(JSON.writeValueAsBytes(n));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Identity objects are compared and hashed in a canonical form: fields sorted by name. */
    static byte[] canonical(JsonNode n) {
        try {
            return JSON.copy().disable(SerializationFeature.INDENT_OUTPUT).enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
                    .writeValueAsBytes(JSON.treeToValue(n, Object.class));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha256Hex(byte[] bytes) {
        return HexFormat.of().formatHex(sha256().digest(bytes));
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
