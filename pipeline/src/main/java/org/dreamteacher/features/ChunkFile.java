package org.dreamteacher.features;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.zip.CRC32C;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.features.FeatureManifest.Chunk;
import org.dreamteacher.features.FeatureManifest.Tap;
import org.dreamteacher.torch.TensorFile;

/**
 * One chunk of a feature store, checked against the manifest when opened and read row by row.
 *
 * <p>Why not {@link TensorFile#read}: training asks for shuffled batches, so one batch of 32 needs a few rows
 * from many chunks; reading whole chunks for that moves the entire store through memory for every batch, while
 * positional reads of just those rows let the kernel's page cache serve them (see
 * {@code benchmarks/results/feature-datasets.md}). The chunk is still a plain {@link TensorFile} (same layout,
 * same checksum), parsed here by offsets so that its rows can be addressed in place.
 *
 * <p>Rows are read with {@link FileChannel#read(ByteBuffer, long)}, not through a memory mapping kept open: a
 * mapped file that another process truncates faults on access (SIGBUS, which kills the JVM when the access is
 * libtorch's copy), while a positional read returns short, reported here as a {@link FeatureStoreException}.
 * Each read also checks that the file is still the one opened (same file key, size and modification time),
 * so a chunk replaced or rewritten after opening is refused rather than silently mixed in. The mapping used
 * to check the chunk when it is opened is released before {@link #map} returns. Rows are gathered as bytes
 * and only then reinterpreted as float16/float32, so misaligned offsets never reach libtorch.
 */
final class ChunkFile implements AutoCloseable {
    static final String CONTENT = "dreamteacher-feature-chunk";
    static final String INDICES = "indices";
    static final String IMAGES = "images";
    static final String FEATURE_PREFIX = "features/";
    private static final byte[] MAGIC = "DTTENSOR".getBytes(StandardCharsets.US_ASCII);
    private static final int PREAMBLE = 8 + 4 + 4 + 8;
    private static final int TRAILER = 4;

    /** One tensor of the chunk: where its bytes lie in the file and how long one row (one image) is. */
    record Entry(String name, String dtype, long[] shape, long offset, long bytes) {
        long rowBytes() {
            return shape[0] == 0 ? 0 : bytes / shape[0];
        }
    }

    private final Path file;
    private final int rows;
    private final Map<String, Entry> entries;
    private final long size;
    private final Object fileKey;
    private final java.nio.file.attribute.FileTime modified;
    private volatile boolean closed;

    private ChunkFile(Path file, int rows, Map<String, Entry> entries, long size, Object fileKey, java.nio.file.attribute.FileTime modified) {
        this.file = file;
        this.rows = rows;
        this.entries = entries;
        this.size = size;
        this.fileKey = fileKey;
        this.modified = modified;
    }

    Path file() {
        return file;
    }

    /**
     * Maps {@code chunk} of the store in {@code dir} and checks it against the manifest: present, of the listed
     * size and checksum, written for this store (identity hash), holding exactly the expected tensors with the
     * expected dtypes and shapes, and the expected image indices. With {@code verifyChecksum} the CRC32C of
     * the whole file is recomputed (reads every byte once); without it only the structure is checked.
     */
    static ChunkFile map(Path dir, FeatureManifest m, Chunk chunk, boolean verifyChecksum) throws FeatureStoreException {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
            throw new UnsupportedOperationException("feature stores are read in place only on little-endian machines");
        Path file = dir.resolve(chunk.file());
        if (!Files.isRegularFile(file))
            throw new FeatureStoreException(file, "missing: " + FeatureManifest.FILE + " lists it as chunk " + chunk.index()
                    + " (images " + chunk.first() + ".." + (chunk.first() + chunk.count() - 1) + ") but the file does not exist; re-encode with resume = true");
        MappedByteBuffer buf;
        java.nio.file.attribute.BasicFileAttributes attrs;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            attrs = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
            long size = ch.size();
            if (size != chunk.bytes())
                throw new FeatureStoreException(file, (size < chunk.bytes() ? "truncated: " : "wrong size: ") + size + " bytes, "
                        + FeatureManifest.FILE + " says " + chunk.bytes() + "; re-encode it with resume = true");
            if (size > Integer.MAX_VALUE) throw new FeatureStoreException(file, "larger than 2 GiB: encode with a smaller chunk size");
            buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
        } catch (FeatureStoreException e) {
            throw e;
        } catch (IOException e) {
            throw new FeatureStoreException(file, "cannot be mapped: " + e.getMessage(), e);
        }
        buf.order(ByteOrder.LITTLE_ENDIAN);
        try {
            Map<String, Entry> expected = parse(file, buf, m, chunk, verifyChecksum);
            return new ChunkFile(file, chunk.count(), expected, chunk.bytes(), attrs.fileKey(), attrs.lastModifiedTime());
        } catch (InternalError fault) {
            // the JVM's report of a fault in a mapped buffer: the file was cut while it was being checked
            throw new FeatureStoreException(file, "changed (truncated?) while it was being opened; re-encode it with resume = true");
        } finally {
            unmap(buf);
        }
    }

    private static Map<String, Entry> parse(Path file, MappedByteBuffer buf, FeatureManifest m, Chunk chunk, boolean verifyChecksum)
            throws FeatureStoreException {
        long size = buf.capacity();
        if (size < PREAMBLE + TRAILER) throw new FeatureStoreException(file, "truncated: " + size + " bytes");
        byte[] magic = new byte[8];
        buf.get(0, magic);
        if (!Arrays.equals(magic, MAGIC)) throw new FeatureStoreException(file, "not a DreamTeacher tensor file (bad magic): corrupt");
        int version = buf.getInt(8);
        if (version != TensorFile.FORMAT_VERSION)
            throw new FeatureStoreException(file, "tensor file format version " + version + " (this library reads " + TensorFile.FORMAT_VERSION + ")");
        long headerLength = buf.getLong(16);
        if (headerLength <= 0 || headerLength > size - PREAMBLE - TRAILER)
            throw new FeatureStoreException(file, "header length " + headerLength + " does not fit a " + size + "-byte file: corrupt");
        int trailer = buf.getInt((int) (size - TRAILER));
        String crcHex = HexFormat.of().toHexDigits(trailer);
        if (!crcHex.equals(chunk.crc32c()))
            throw new FeatureStoreException(file, "its checksum " + crcHex + " is not the " + chunk.crc32c() + " that " + FeatureManifest.FILE
                    + " lists: the file was replaced or corrupted after it was encoded; re-encode it with resume = true");
        if (verifyChecksum) {
            CRC32C crc = new CRC32C();
            crc.update(buf.slice(0, (int) (size - TRAILER)));
            if ((int) crc.getValue() != trailer)
                throw new FeatureStoreException(file, "corrupt: checksum mismatch (its bytes changed after it was written); re-encode it with resume = true");
        }
        long payloadStart = PREAMBLE + headerLength;
        long payloadLength = size - TRAILER - payloadStart;
        byte[] headerBytes = new byte[(int) headerLength];
        buf.get(PREAMBLE, headerBytes);
        JsonNode header;
        try {
            header = FeatureManifest.JSON.readTree(headerBytes);
        } catch (IOException e) {
            throw new FeatureStoreException(file, "unreadable header: corrupt");
        }
        JsonNode meta = header.path("meta");
        if (!CONTENT.equals(meta.path("content").asText()))
            throw new FeatureStoreException(file, "a tensor file but not a feature chunk");
        if (meta.path("chunk").asInt(-1) != chunk.index() || meta.path("first").asInt(-1) != chunk.first()
                || meta.path("count").asInt(-1) != chunk.count())
            throw new FeatureStoreException(file, "holds chunk " + meta.path("chunk") + " (images from " + meta.path("first") + ", "
                    + meta.path("count") + " of them), " + FeatureManifest.FILE + " expects chunk " + chunk.index() + " (" + chunk.first() + ", "
                    + chunk.count() + ")");
        if (!m.identityHash().equals(meta.path("identity").asText()))
            throw new FeatureStoreException(file, "was encoded for another store (identity " + meta.path("identity").asText() + ", "
                    + FeatureManifest.FILE + " has " + m.identityHash() + ")");

        Map<String, Entry> found = new HashMap<>();
        for (JsonNode e : header.path("tensors")) {
            String name = e.path("name").asText("");
            long[] shape = new long[e.path("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = e.path("shape").get(i).asLong(-1);
            long offset = e.path("offset").asLong(-1), bytes = e.path("bytes").asLong(-1);
            if (offset < 0 || bytes < 0 || offset > payloadLength || bytes > payloadLength - offset)
                throw new FeatureStoreException(file, "tensor '" + name + "' lies outside the file: corrupt");
            if (found.put(name, new Entry(name, e.path("dtype").asText(""), shape, payloadStart + offset, bytes)) != null)
                throw new FeatureStoreException(file, "lists tensor '" + name + "' twice: corrupt");
        }
        // Disjoint byte ranges: one row must never be readable as another tensor's bytes.
        java.util.List<Entry> byOffset = new java.util.ArrayList<>(found.values());
        byOffset.sort(java.util.Comparator.comparingLong(Entry::offset));
        long end = 0;
        for (Entry e : byOffset) {
            if (e.bytes() == 0) continue;
            if (e.offset() < end) throw new FeatureStoreException(file, "tensor '" + e.name() + "' overlaps another tensor's bytes: corrupt or forged");
            end = e.offset() + e.bytes();
        }
        Map<String, Entry> expected = new HashMap<>();
        int n = chunk.count();
        int[] img = m.imageShape();
        expect(file, found, expected, INDICES, "int64", new long[] {n}, 8);
        if (m.hasImages()) expect(file, found, expected, IMAGES, "float32", new long[] {n, img[0], img[1], img[2]}, 4);
        for (Tap t : m.taps())
            expect(file, found, expected, FEATURE_PREFIX + t.name(), m.precision().dtypeName, new long[] {n, t.channels(), t.height(), t.width()},
                    m.precision().bytes);
        for (String name : found.keySet())
            if (!expected.containsKey(name)) throw new FeatureStoreException(file, "holds a tensor '" + name + "' that " + FeatureManifest.FILE + " does not describe");
        Entry idx = expected.get(INDICES);
        for (int r = 0; r < n; r++) {
            long v = buf.getLong((int) (idx.offset() + 8L * r));
            if (v != chunk.first() + r)
                throw new FeatureStoreException(file, "row " + r + " holds image " + v + ", expected " + (chunk.first() + r));
        }
        return expected;
    }

    private static void expect(Path file, Map<String, Entry> found, Map<String, Entry> expected, String name, String dtype, long[] shape,
            int elementBytes) throws FeatureStoreException {
        Entry e = found.get(name);
        if (e == null) throw new FeatureStoreException(file, "has no tensor '" + name + "' although " + FeatureManifest.FILE + " describes it");
        if (!e.dtype().equals(dtype) || !Arrays.equals(e.shape(), shape))
            throw new FeatureStoreException(file, "tensor '" + name + "' is " + e.dtype() + " " + Arrays.toString(e.shape()) + ", "
                    + FeatureManifest.FILE + " describes " + dtype + " " + Arrays.toString(shape));
        long count = elementBytes;
        try {
            for (long s : shape) count = Math.multiplyExact(count, s);
        } catch (ArithmeticException overflow) {
            throw new FeatureStoreException(file, "tensor '" + name + "' has a shape whose size overflows: corrupt");
        }
        if (e.bytes() != count) throw new FeatureStoreException(file, "tensor '" + name + "' has the wrong byte count: corrupt");
        expected.put(name, e);
    }

    /**
     * The rows {@code rows} (image positions inside this chunk) of tensor {@code name} as a fresh uint8 tensor of
     * (rows.length, bytes per row). {@code rows} is an int64 tensor. A chunk that was truncated, replaced or
     * rewritten since it was opened gives an IllegalStateException whose cause is a {@link FeatureStoreException}.
     */
    Tensor gatherBytes(String name, Tensor rows) {
        if (closed) throw new IllegalStateException(file + " is closed");
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException(file + " holds no tensor '" + name + "'");
        int n = (int) rows.numel();
        long[] r = new long[n];
        if (n > 0) rows.contiguous().data_ptr_long().get(r);
        long rowBytes = e.rowBytes();
        Tensor out = torch.empty(new long[] {n, rowBytes}, new TensorOptions(ScalarType.Byte), new org.bytedeco.pytorch.MemoryFormatOptional());
        if (n == 0 || rowBytes == 0) return out;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            java.nio.file.attribute.BasicFileAttributes now = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
            long length = ch.size();
            if (length != size || !java.util.Objects.equals(now.fileKey(), fileKey) || !now.lastModifiedTime().equals(modified))
                throw changed(length < size ? "truncated to " + length + " bytes since it was opened (" + size + " then)"
                        : "replaced or rewritten since it was opened");
            BytePointer base = new BytePointer(out.data_ptr());
            base.capacity((long) n * rowBytes);
            ByteBuffer all = base.asBuffer();
            for (int j = 0; j < n; j++) {
                if (r[j] < 0 || r[j] >= this.rows) throw new IndexOutOfBoundsException("row " + r[j] + " outside 0.." + (this.rows - 1));
                ByteBuffer dst = all.slice((int) (j * rowBytes), (int) rowBytes);
                long pos = e.offset() + r[j] * rowBytes;
                while (dst.hasRemaining()) {
                    int k = ch.read(dst, pos);
                    if (k < 0) throw changed("truncated: row " + r[j] + " of '" + name + "' lies past its end");
                    pos += k;
                }
            }
        } catch (IOException io) {
            throw new IllegalStateException(file + ": cannot be read: " + io.getMessage(), new FeatureStoreException(file, "cannot be read", io));
        }
        return out;
    }

    private IllegalStateException changed(String what) {
        FeatureStoreException e = new FeatureStoreException(file, what + "; re-encode it with resume = true, then start again");
        return new IllegalStateException(e.getMessage(), e);
    }

    /** Further reads fail. */
    @Override
    public void close() {
        closed = true;
    }

    private static final Method INVOKE_CLEANER;
    private static final Object UNSAFE;

    static {
        Method m = null;
        Object u = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            u = f.get(null);
            m = c.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // without it mappings are released by the garbage collector, later but just as safely
            m = null;
            u = null;
        }
        INVOKE_CLEANER = m;
        UNSAFE = u;
    }

    private static void unmap(MappedByteBuffer b) {
        if (INVOKE_CLEANER == null) return;
        try {
            INVOKE_CLEANER.invoke(UNSAFE, b);
        } catch (ReflectiveOperationException | RuntimeException ignored) {
            // left to the garbage collector
        }
    }
}
