package org.dreamteacher.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A file of named tensors with a JSON header, written atomically and checked on reading. Checkpoints and
 * feature chunks use it.
 *
 * <pre>
 * "DTTENSOR"            8 bytes magic
 * int32  format version (little endian), currently 1
 * int32  0 (reserved)
 * int64  header length H
 * H bytes UTF-8 JSON: {"meta": {...}, "tensors": [{"name", "dtype", "shape", "offset", "bytes"}, ...]}
 * payload              tensor bytes, little endian, offsets relative to the payload's start
 * int32  CRC32C of every byte before it
 * </pre>
 *
 * Writing goes through {@link AtomicWrite}: a reader never sees a partial file under the final name. Reading validates the magic, the version, every
 * length and offset against the real file size (before allocating anything) and the checksum, and names the
 * file in every error.
 */
public final class TensorFile {
    public static final int FORMAT_VERSION = 1;
    private static final byte[] MAGIC = "DTTENSOR".getBytes(StandardCharsets.US_ASCII);
    private static final int PREAMBLE = 8 + 4 + 4 + 8;
    private static final int TRAILER = 4;
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * The largest header a reader accepts. A header entry takes about 100 bytes, so this allows hundreds of
     * thousands of tensors; anything larger is refused before its bytes are read.
     */
    public static final long MAX_HEADER_BYTES = 64L << 20;

    /** The JSON metadata and the named tensors of a file, in file order. */
    public record Contents(JsonNode meta, Map<String, Tensor> tensors) {}

    /** One tensor as the header describes it, checked against the payload but not yet read. */
    public record Entry(String name, String dtype, long[] shape, long offset, long bytes) {}

    /**
     * A check of a file's header that runs after its structure is validated (entries inside the payload,
     * disjoint, adding up to at most the payload) and before any tensor is allocated: a caller refuses here
     * names, dtypes or shapes it does not expect.
     */
    @FunctionalInterface
    public interface HeaderCheck {
        void check(JsonNode meta, List<Entry> entries) throws TensorFileException;
    }

    private TensorFile() {}

    /**
     * Writes {@code tensors} (CPU, any of the supported dtypes; made contiguous here) and {@code meta}
     * atomically to {@code file}.
     */
    public static void write(Path file, JsonNode meta, Map<String, Tensor> tensors) throws IOException {
        TorchRuntime.init();
        List<Tensor> contiguous = new ArrayList<>();
        ObjectNode header = JsonNodeFactory.instance.objectNode();
        header.set("meta", meta == null ? JsonNodeFactory.instance.objectNode() : meta);
        ArrayNode list = header.putArray("tensors");
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            if (t == null || t.isNull() || !t.defined()) throw new IllegalArgumentException("tensor '" + e.getKey() + "' is undefined");
            if (!t.is_cpu()) throw new IllegalArgumentException("tensor '" + e.getKey() + "' is not on the CPU");
            Tensor c = t.contiguous();
            contiguous.add(c);
            ObjectNode entry = list.addObject();
            entry.put("name", e.getKey());
            entry.put("dtype", DType.of(c).name);
            ArrayNode shape = entry.putArray("shape");
            for (long s : c.sizes().vec().get()) shape.add(s);
            entry.put("offset", offset);
            entry.put("bytes", c.nbytes());
            offset += c.nbytes();
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);

        AtomicWrite.write(file, ch -> {
            CRC32C crc = new CRC32C();
            ByteBuffer pre = ByteBuffer.allocate(PREAMBLE).order(ByteOrder.LITTLE_ENDIAN);
            pre.put(MAGIC).putInt(FORMAT_VERSION).putInt(0).putLong(headerBytes.length).flip();
            writeFully(ch, pre, crc);
            writeFully(ch, ByteBuffer.wrap(headerBytes), crc);
            for (Tensor c : contiguous) {
                if (c.nbytes() == 0) continue;
                BytePointer data = new BytePointer(c.data_ptr());
                data.capacity(c.nbytes());
                writeFully(ch, data.asBuffer().order(ByteOrder.LITTLE_ENDIAN), crc);
            }
            ByteBuffer trailer = ByteBuffer.allocate(TRAILER).order(ByteOrder.LITTLE_ENDIAN);
            trailer.putInt((int) crc.getValue()).flip();
            AtomicWrite.writeFully(ch, trailer);
        });
    }

    /** Whether {@code file} starts with this format's magic (the file is not validated). */
    public static boolean looksLikeTensorFile(Path file) throws IOException {
        try (java.io.InputStream in = Files.newInputStream(file)) {
            return java.util.Arrays.equals(in.readNBytes(MAGIC.length), MAGIC);
        }
    }

    /** Reads and validates a whole file; the tensors are new CPU tensors owned by the caller. */
    public static Contents read(Path file) throws IOException {
        return read(file, null);
    }

    /**
     * Reads and validates a whole file, running {@code check} (may be null) on the validated header before
     * anything is allocated for the tensors. The tensors allocated add up to at most the payload's size: the
     * entries must be disjoint byte ranges of the payload.
     */
    public static Contents read(Path file, HeaderCheck check) throws IOException {
        TorchRuntime.init();
        if (!Files.isRegularFile(file)) throw new TensorFileException(file, "no such file");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < PREAMBLE + TRAILER) throw new TensorFileException(file, "truncated: " + size + " bytes");
            ByteBuffer pre = ByteBuffer.allocate(PREAMBLE).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, pre, 0, file);
            byte[] magic = new byte[8];
            pre.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) throw new TensorFileException(file, "not a DreamTeacher tensor file (bad magic)");
            int version = pre.getInt();
            if (version != FORMAT_VERSION)
                throw new TensorFileException(file, "format version " + version + " (this library reads " + FORMAT_VERSION + ")");
            pre.getInt();
            long headerLength = pre.getLong();
            if (headerLength <= 0 || headerLength > size - PREAMBLE - TRAILER)
                throw new TensorFileException(file, "header length " + headerLength + " does not fit a " + size + "-byte file");
            if (headerLength > MAX_HEADER_BYTES)
                throw new TensorFileException(file, "header of " + headerLength + " bytes is larger than the " + MAX_HEADER_BYTES
                        + " this library reads: corrupt or forged");
            long payloadStart = PREAMBLE + headerLength;
            long payloadLength = size - TRAILER - payloadStart;

            // Checksum first, streaming, so that nothing is allocated from unverified lengths.
            CRC32C crc = new CRC32C();
            ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
            long pos = 0;
            while (pos < size - TRAILER) {
                chunk.clear().limit((int) Math.min(chunk.capacity(), size - TRAILER - pos));
                readFully(ch, chunk, pos, file);
                pos += chunk.remaining();
                crc.update(chunk);
            }
            ByteBuffer trailer = ByteBuffer.allocate(TRAILER).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, trailer, size - TRAILER, file);
            if (trailer.getInt() != (int) crc.getValue())
                throw new TensorFileException(file, "checksum mismatch: the file is corrupt or was truncated");

            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLength);
            readFully(ch, headerBuf, PREAMBLE, file);
            JsonNode header;
            try {
                header = JSON.readTree(headerBuf.array());
            } catch (IOException e) {
                throw new TensorFileException(file, "unreadable header: " + e.getMessage());
            }
            if (header == null || !header.path("tensors").isArray())
                throw new TensorFileException(file, "header has no tensor list");
            List<Entry> entries;
            try {
                entries = entries(file, header, payloadLength);
            } catch (RuntimeException e) {
                throw new TensorFileException(file, "malformed header: " + e);
            }
            JsonNode meta = header.path("meta");
            if (meta.isMissingNode()) meta = JsonNodeFactory.instance.objectNode();
            if (check != null) check.check(meta, Collections.unmodifiableList(entries));
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Entry entry : entries) {
                DType dtype = DType.byName(entry.dtype());
                Tensor t = torch.empty(entry.shape(), new TensorOptions(dtype.type), new MemoryFormatOptional());
                if (entry.bytes() > 0) {
                    BytePointer data = new BytePointer(t.data_ptr());
                    data.capacity(entry.bytes());
                    readFully(ch, data.asBuffer(), payloadStart + entry.offset(), file);
                }
                tensors.put(entry.name(), t);
            }
            return new Contents(meta, Collections.unmodifiableMap(tensors));
        }
    }

    /**
     * The header's tensor list, each entry checked against the payload, and all of them together: disjoint
     * byte ranges whose sum is at most {@code payloadLength}, so that a small file cannot ask for more memory
     * than its own size by listing the same bytes many times.
     */
    private static List<Entry> entries(Path file, JsonNode header, long payloadLength) throws TensorFileException {
        List<Entry> entries = new ArrayList<>();
        java.util.Set<String> names = new java.util.HashSet<>();
        for (JsonNode entry : header.get("tensors")) {
            if (!entry.isObject()) throw new TensorFileException(file, "tensor entry " + entries.size() + " is not an object");
            String name = entry.path("name").isTextual() ? entry.path("name").asText() : null;
            if (name == null || !names.add(name)) throw new TensorFileException(file, "missing or repeated tensor name");
            DType dtype = DType.byName(entry.path("dtype").asText(""));
            if (dtype == null) throw new TensorFileException(file, "tensor '" + name + "': unknown dtype " + entry.path("dtype"));
            JsonNode shapeNode = entry.path("shape");
            if (!shapeNode.isArray()) throw new TensorFileException(file, "tensor '" + name + "': no shape");
            if (shapeNode.size() > 64) throw new TensorFileException(file, "tensor '" + name + "': " + shapeNode.size() + " dimensions");
            long[] shape = new long[shapeNode.size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).isIntegralNumber() ? shapeNode.get(i).asLong(-1) : -1;
                if (shape[i] < 0) throw new TensorFileException(file, "tensor '" + name + "': negative or non-integer size");
                try {
                    count = Math.multiplyExact(count, shape[i]);
                } catch (ArithmeticException e) {
                    throw new TensorFileException(file, "tensor '" + name + "': size overflow");
                }
            }
            long offset = entry.path("offset").isIntegralNumber() ? entry.path("offset").asLong(-1) : -1;
            long bytes = entry.path("bytes").isIntegralNumber() ? entry.path("bytes").asLong(-1) : -1;
            if (count > Long.MAX_VALUE / dtype.size || bytes != count * dtype.size)
                throw new TensorFileException(file, "tensor '" + name + "': " + bytes + " bytes do not match its shape");
            if (offset < 0 || offset > payloadLength || bytes > payloadLength - offset)
                throw new TensorFileException(file, "tensor '" + name + "' lies outside the file");
            entries.add(new Entry(name, dtype.name, shape, offset, bytes));
        }
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(java.util.Comparator.comparingLong(Entry::offset).thenComparingLong(Entry::bytes));
        long end = 0, total = 0;
        Entry previous = null;
        for (Entry e : byOffset) {
            if (e.bytes() == 0) continue;
            if (previous != null && e.offset() < end)
                throw new TensorFileException(file, "tensors '" + previous.name() + "' and '" + e.name() + "' overlap (bytes "
                        + e.offset() + ".." + (end - 1) + " of the payload): corrupt or forged");
            end = e.offset() + e.bytes();
            total += e.bytes();
            previous = e;
        }
        if (total > payloadLength)
            throw new TensorFileException(file, "tensors add up to " + total + " bytes, more than the " + payloadLength + "-byte payload");
        return entries;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, CRC32C crc) throws IOException {
        crc.update(buf.duplicate());
        AtomicWrite.writeFully(ch, buf);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position, Path file) throws IOException {
        int start = buf.position();
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) throw new TensorFileException(file, "truncated at byte " + pos);
            pos += n;
        }
        buf.position(start);
    }

    /** Element types a tensor file can hold. */
    enum DType {
        F32("float32", ScalarType.Float, 4), F64("float64", ScalarType.Double, 8), F16("float16", ScalarType.Half, 2),
        BF16("bfloat16", ScalarType.BFloat16, 2), I64("int64", ScalarType.Long, 8), I32("int32", ScalarType.Int, 4),
        U8("uint8", ScalarType.Byte, 1), BOOL("bool", ScalarType.Bool, 1);

        final String name;
        final ScalarType type;
        final int size;

        DType(String name, ScalarType type, int size) {
            this.name = name;
            this.type = type;
            this.size = size;
        }

        static DType of(Tensor t) {
            ScalarType s = t.scalar_type().intern();
            for (DType d : values()) if (d.type == s) return d;
            throw new IllegalArgumentException("unsupported tensor dtype " + s);
        }

        static DType byName(String name) {
            for (DType d : values()) if (d.name.equals(name)) return d;
            return null;
        }
    }
}
