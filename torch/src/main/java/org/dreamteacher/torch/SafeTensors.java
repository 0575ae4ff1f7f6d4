package org.dreamteacher.torch;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
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
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The safetensors format (Hugging Face), read and written without a dependency, for exchanging weights with
 * PyTorch and other tools:
 *
 * <pre>
 * uint64  header length N (little endian)
 * N bytes UTF-8 JSON, padded with spaces to a multiple of 8:
 *         {"__metadata__": {"key": "value", ...},
 *          "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * data    the tensors' bytes, little endian, row-major; offsets relative to the start of this section
 * </pre>
 *
 * Dtypes keep their type: an {@code F16} tensor is read as a half tensor, never converted. Writing goes through
 * {@link AtomicWrite}; tensors are written contiguous, from the CPU, and laid out by decreasing item size so that
 * each one starts at a multiple of its item size. Reading checks the whole header before allocating anything
 * (length against the file, JSON, dtypes, shapes against byte ranges, ranges inside the data section, no
 * overlap, no gap, unique names) and names the file, and the tensor where there is one, in every error.
 */
public final class SafeTensors {
    /** The largest header a reader accepts (the reference implementation's limit). */
    public static final long MAX_HEADER_BYTES = 100L << 20;
    /** The key of the string-to-string metadata in the header. */
    public static final String METADATA_KEY = "__metadata__";
    private static final int MAX_DIMENSIONS = 64;
    /** Read and written in slices: a ByteBuffer holds at most 2 GB. */
    private static final long SLICE = 1L << 30;
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** Element types this library reads and writes, by their safetensors names. */
    public enum DType {
        F64(ScalarType.Double, 8), F32(ScalarType.Float, 4), F16(ScalarType.Half, 2), BF16(ScalarType.BFloat16, 2),
        I64(ScalarType.Long, 8), I32(ScalarType.Int, 4), I16(ScalarType.Short, 2), I8(ScalarType.Char, 1),
        U8(ScalarType.Byte, 1), BOOL(ScalarType.Bool, 1);

        private final ScalarType type;
        private final int size;

        DType(ScalarType type, int size) {
            this.type = type;
            this.size = size;
        }

        /** Bytes per element. */
        public int size() {
            return size;
        }

        /** The libtorch element type. */
        public ScalarType scalarType() {
            return type;
        }

        /** Whether this is a floating-point type. */
        public boolean isFloatingPoint() {
            return this == F64 || this == F32 || this == F16 || this == BF16;
        }

        /** The dtype of a tensor; fails for element types the format has no name for here. */
        public static DType of(Tensor t) {
            ScalarType s = t.scalar_type().intern();
            for (DType d : values()) if (d.type == s) return d;
            throw new IllegalArgumentException("unsupported tensor dtype " + s);
        }

        static DType byName(String name) {
            for (DType d : values()) if (d.name().equals(name)) return d;
            return null;
        }
    }

    /** Dtypes of the format that this library does not read (named in the error rather than called unknown). */
    private static final List<String> KNOWN_UNSUPPORTED = List.of("U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3",
            "F6_E3M2", "F4", "C64");

    /** One tensor as the header describes it, checked against the data section but not yet read. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long bytes() {
            return end - begin;
        }

        @Override
        public String toString() {
            return name + " " + dtype + " " + Arrays.toString(shape);
        }
    }

    /** The metadata and the named tensors of a file, in header order. */
    public record Contents(Map<String, String> metadata, Map<String, Tensor> tensors) {}

    /**
     * A check of a file's header that runs after its structure is validated and before any tensor is
     * allocated: a caller refuses here names, dtypes or shapes it does not expect.
     */
    @FunctionalInterface
    public interface HeaderCheck {
        void check(Map<String, String> metadata, List<Entry> entries) throws IOException;
    }

    private SafeTensors() {}

    /**
     * Writes {@code tensors} (any device; copied to the CPU and made contiguous here) with {@code metadata} (may be
     * null) atomically to {@code file}. The header lists the tensors in the map's order.
     */
    public static void write(Path file, Map<String, String> metadata, Map<String, Tensor> tensors) throws IOException {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            List<String> names = new ArrayList<>(tensors.keySet());
            Map<String, Tensor> contiguous = new LinkedHashMap<>();
            for (String name : names) {
                if (name == null || name.isEmpty()) throw new IllegalArgumentException("a tensor needs a non-empty name");
                if (name.equals(METADATA_KEY)) throw new IllegalArgumentException("'" + METADATA_KEY + "' cannot name a tensor");
                Tensor t = tensors.get(name);
                if (t == null || t.isNull() || !t.defined()) throw new IllegalArgumentException("tensor '" + name + "' is undefined");
                DType.of(t);
                Tensor cpu = t.is_cpu() ? t : t.cpu();
                contiguous.put(name, cpu.contiguous());
            }
            // Larger items first, each group in the map's order: every tensor starts at a multiple of its item size.
            List<String> layout = new ArrayList<>(names);
            layout.sort(Comparator.comparingInt((String n) -> -DType.of(contiguous.get(n)).size()));
            Map<String, long[]> offsets = new LinkedHashMap<>();
            long offset = 0;
            for (String name : layout) {
                long n = contiguous.get(name).nbytes();
                offsets.put(name, new long[] {offset, offset + n});
                offset += n;
            }
            ObjectNode header = JsonNodeFactory.instance.objectNode();
            if (metadata != null && !metadata.isEmpty()) {
                ObjectNode m = header.putObject(METADATA_KEY);
                for (Map.Entry<String, String> e : metadata.entrySet()) {
                    if (e.getKey() == null || e.getValue() == null) throw new IllegalArgumentException("metadata keys and values must not be null");
                    m.put(e.getKey(), e.getValue());
                }
            }
            for (String name : names) {
                Tensor c = contiguous.get(name);
                ObjectNode entry = header.putObject(name);
                entry.put("dtype", DType.of(c).name());
                ArrayNode shape = entry.putArray("shape");
                for (long s : c.sizes().vec().get()) shape.add(s);
                long[] range = offsets.get(name);
                entry.putArray("data_offsets").add(range[0]).add(range[1]);
            }
            byte[] json = JSON.writeValueAsBytes(header);
            int padded = (json.length + 7) / 8 * 8;
            byte[] headerBytes = Arrays.copyOf(json, padded);
            Arrays.fill(headerBytes, json.length, padded, (byte) ' ');

            AtomicWrite.write(file, ch -> {
                ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length).flip();
                AtomicWrite.writeFully(ch, length);
                AtomicWrite.writeFully(ch, ByteBuffer.wrap(headerBytes));
                for (String name : layout) {
                    Tensor c = contiguous.get(name);
                    long n = c.nbytes();
                    if (n == 0) continue;
                    BytePointer data = new BytePointer(c.data_ptr());
                    data.capacity(n);
                    for (long at = 0; at < n; at += SLICE) {
                        data.position(at).limit(Math.min(n, at + SLICE));
                        AtomicWrite.writeFully(ch, data.asBuffer());
                    }
                }
            });
        }
    }

    /** Reads and validates a whole file; the tensors are new CPU tensors owned by the caller. */
    public static Contents read(Path file) throws IOException {
        return read(file, null);
    }

    /**
     * Reads and validates a whole file, running {@code check} (may be null) on the validated header before
     * anything is allocated for the tensors. The tensors allocated add up to exactly the data section's size.
     */
    public static Contents read(Path file, HeaderCheck check) throws IOException {
        TorchRuntime.init();
        if (!Files.isRegularFile(file)) throw new TensorFileException(file, "no such file");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            Header header = header(file, ch, size);
            if (check != null) check.check(header.metadata(), header.entries());
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            try {
                for (Entry e : header.entries()) {
                    Tensor t;
                    try (TensorOptions options = new TensorOptions(e.dtype().scalarType()); MemoryFormatOptional format = new MemoryFormatOptional()) {
                        t = torch.empty(e.shape(), options, format);
                    }
                    tensors.put(e.name(), t);
                    readTensor(file, ch, header.dataStart(), e, t);
                }
            } catch (IOException | RuntimeException ex) {
                for (Tensor t : tensors.values()) t.close();
                throw ex;
            }
            return new Contents(header.metadata(), Collections.unmodifiableMap(tensors));
        }
    }

    private record Header(Map<String, String> metadata, List<Entry> entries, long dataStart) {}

    private static Header header(Path file, FileChannel ch, long size) throws IOException {
        if (size < 8) throw new TensorFileException(file, "truncated: " + size + " bytes, too short for a safetensors file");
        ByteBuffer lengthBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, ch, lengthBuf, 0);
        long headerLength = lengthBuf.getLong();
        // An unsigned length above 2^63 reads as negative here.
        if (headerLength < 2 || headerLength > size - 8)
            throw new TensorFileException(file, "header length " + Long.toUnsignedString(headerLength) + " does not fit a " + size
                    + "-byte file: truncated, corrupt or not a safetensors file");
        if (headerLength > MAX_HEADER_BYTES)
            throw new TensorFileException(file, "header of " + headerLength + " bytes is larger than the " + MAX_HEADER_BYTES
                    + " this library reads: corrupt or forged");
        ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLength);
        readFully(file, ch, headerBuf, 8);
        byte[] bytes = headerBuf.array();
        if (bytes[0] != '{') throw new TensorFileException(file, "the header does not start with '{': not a safetensors file");
        JsonNode json;
        try {
            checkUtf8(bytes);
            json = JSON.readTree(bytes);
        } catch (IOException | IllegalArgumentException e) {
            throw new TensorFileException(file, "unreadable header: " + firstLine(e.getMessage()));
        }
        if (json == null || !json.isObject()) throw new TensorFileException(file, "the header is not a JSON object");
        long dataStart = 8 + headerLength;
        long dataLength = size - dataStart;

        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            JsonNode value = field.getValue();
            if (name.equals(METADATA_KEY)) {
                if (!value.isObject()) throw new TensorFileException(file, METADATA_KEY + " is not a JSON object");
                for (Iterator<Map.Entry<String, JsonNode>> m = value.fields(); m.hasNext();) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    if (!kv.getValue().isTextual())
                        throw new TensorFileException(file, METADATA_KEY + " value of '" + kv.getKey() + "' is not a string");
                    metadata.put(kv.getKey(), kv.getValue().asText());
                }
                continue;
            }
            entries.add(entry(file, name, value, dataLength));
        }
        checkCoverage(file, entries, dataLength);
        return new Header(Collections.unmodifiableMap(metadata), Collections.unmodifiableList(entries), dataStart);
    }

    /** Malformed UTF-8 raises IllegalArgumentException (the JSON parser lets some of it through in strings). */
    private static void checkUtf8(byte[] bytes) {
        try {
            StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes));
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException("the header is not valid UTF-8");
        }
    }

    private static Entry entry(Path file, String name, JsonNode value, long dataLength) throws TensorFileException {
        String where = "tensor '" + name + "'";
        if (name.isEmpty()) throw new TensorFileException(file, "a tensor has an empty name");
        if (!value.isObject()) throw new TensorFileException(file, where + ": its entry is not a JSON object");
        for (Iterator<String> f = value.fieldNames(); f.hasNext();) {
            String key = f.next();
            if (!key.equals("dtype") && !key.equals("shape") && !key.equals("data_offsets"))
                throw new TensorFileException(file, where + ": unknown field '" + key + "'");
        }
        JsonNode dtypeNode = value.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) throw new TensorFileException(file, where + ": no dtype");
        DType dtype = DType.byName(dtypeNode.asText());
        if (dtype == null) {
            String d = dtypeNode.asText();
            throw new TensorFileException(file, where + ": " + (KNOWN_UNSUPPORTED.contains(d.toUpperCase(Locale.ROOT))
                    ? "dtype " + d + " is not supported" : "unknown dtype '" + d + "'") + " (this library reads " + Arrays.toString(DType.values()) + ")");
        }
        JsonNode shapeNode = value.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) throw new TensorFileException(file, where + ": no shape");
        if (shapeNode.size() > MAX_DIMENSIONS) throw new TensorFileException(file, where + ": " + shapeNode.size() + " dimensions");
        long[] shape = new long[shapeNode.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode s = shapeNode.get(i);
            shape[i] = s.isIntegralNumber() && s.canConvertToLong() ? s.asLong() : -1;
            if (shape[i] < 0) throw new TensorFileException(file, where + ": size " + s + " in its shape is not an integer >= 0");
            try {
                count = Math.multiplyExact(count, shape[i]);
            } catch (ArithmeticException e) {
                throw new TensorFileException(file, where + ": shape " + shapeNode + " overflows");
            }
        }
        if (count > Long.MAX_VALUE / dtype.size()) throw new TensorFileException(file, where + ": shape " + shapeNode + " overflows");
        long bytes = count * dtype.size();
        JsonNode offsets = value.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2)
            throw new TensorFileException(file, where + ": data_offsets must be [begin, end]");
        long begin = offsets.get(0).isIntegralNumber() && offsets.get(0).canConvertToLong() ? offsets.get(0).asLong() : -1;
        long end = offsets.get(1).isIntegralNumber() && offsets.get(1).canConvertToLong() ? offsets.get(1).asLong() : -1;
        if (begin < 0 || end < begin)
            throw new TensorFileException(file, where + ": data_offsets " + offsets + " are not integers 0 <= begin <= end");
        if (end > dataLength)
            throw new TensorFileException(file, where + ": data_offsets " + offsets + " lie outside the " + dataLength
                    + "-byte data section (truncated or forged file)");
        if (end - begin != bytes)
            throw new TensorFileException(file, where + ": " + dtype + " " + shapeNode + " needs " + bytes + " bytes, its data_offsets "
                    + offsets + " hold " + (end - begin));
        return new Entry(name, dtype, shape, begin, end);
    }

    /** The format requires the tensors to tile the data section: no overlap, no gap, nothing after the last. */
    private static void checkCoverage(Path file, List<Entry> entries, long dataLength) throws TensorFileException {
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long covered = 0;
        Entry previous = null;
        for (Entry e : byOffset) {
            if (e.begin() < covered)
                throw new TensorFileException(file, "tensors '" + previous.name() + "' and '" + e.name() + "' overlap (bytes " + e.begin()
                        + ".." + (Math.min(covered, e.end()) - 1) + " of the data section): corrupt or forged");
            if (e.begin() > covered)
                throw new TensorFileException(file, "bytes " + covered + ".." + (e.begin() - 1) + " of the data section belong to no tensor"
                        + " (before tensor '" + e.name() + "'): corrupt or forged");
            covered = e.end();
            previous = e;
        }
        if (covered != dataLength)
            throw new TensorFileException(file, "the tensors cover " + covered + " bytes of the " + dataLength + "-byte data section"
                    + (previous == null ? "" : " (the last is '" + previous.name() + "')") + ": trailing bytes, corrupt or forged");
    }

    private static void readTensor(Path file, FileChannel ch, long dataStart, Entry e, Tensor t) throws IOException {
        long n = e.bytes();
        if (n == 0) return;
        BytePointer data = new BytePointer(t.data_ptr());
        data.capacity(n);
        for (long at = 0; at < n; at += SLICE) {
            data.position(at).limit(Math.min(n, at + SLICE));
            ByteBuffer buf = data.asBuffer();
            readFully(file, ch, buf, dataStart + e.begin() + at);
            if (e.dtype() == DType.BOOL) {
                for (int i = buf.position(); i < buf.limit(); i++) {
                    byte b = buf.get(i);
                    if (b != 0 && b != 1)
                        throw new TensorFileException(file, "tensor '" + e.name() + "': BOOL byte " + (at + i - buf.position()) + " is " + (b & 0xFF)
                                + ", not 0 or 1");
                }
            }
        }
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer buf, long position) throws IOException {
        int start = buf.position();
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) throw new TensorFileException(file, "truncated at byte " + pos);
            pos += n;
        }
        buf.position(start);
    }

    private static String firstLine(String message) {
        if (message == null) return "";
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
