package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads {@code .npy} files for tests, checking the layout byte by byte as NumPy defines it (written here from
 * the format's description, not from {@link NpyWriter}, so that the two check each other).
 */
public final class NpyFiles {
    private static final Pattern DICT = Pattern.compile(
            "\\{'descr': '([<>|][a-z]\\d+)', 'fortran_order': (True|False), 'shape': \\(([0-9, ]*+)\\), \\}");
    private static final Pattern DIMS = Pattern.compile("\\d+(, \\d+)*+,?");

    private NpyFiles() {}

    /**
     * A parsed file.
     *
     * @param headerLength the header's length field: dict, padding and newline
     * @param dataOffset   where the values start
     */
    public record Npy(int major, int minor, int headerLength, String dict, String descr, boolean fortranOrder, long[] shape, int dataOffset,
            ByteBuffer data) {
        public long count() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public float[] floats() {
            assertEquals("<f4", descr);
            float[] out = new float[Math.toIntExact(count())];
            data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        }

        public long[] longs() {
            assertEquals("<i8", descr);
            long[] out = new long[Math.toIntExact(count())];
            data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
            return out;
        }
    }

    /** Parses {@code file}, asserting the magic, version, alignment, padding and data length. */
    public static Npy read(Path file) throws IOException {
        return parse(Files.readAllBytes(file));
    }

    public static Npy parse(byte[] bytes) {
        assertTrue(bytes.length >= 10, "shorter than the fixed prefix");
        assertArrayEquals(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'}, Arrays.copyOf(bytes, 6), "magic");
        int major = bytes[6] & 0xFF, minor = bytes[7] & 0xFF;
        assertTrue(major == 1 || major == 2, "version " + major);
        assertEquals(0, minor, "minor version");
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int prefix = major == 1 ? 10 : 12;
        long headerLength = major == 1 ? (b.getShort(8) & 0xFFFF) : (b.getInt(8) & 0xFFFFFFFFL);
        int dataOffset = Math.toIntExact(prefix + headerLength);
        assertEquals(0, dataOffset % 64, "the data starts at " + dataOffset + ", not a multiple of 64");
        assertTrue(bytes.length >= dataOffset, "the header runs past the end of the file");
        String header = new String(bytes, prefix, (int) headerLength, StandardCharsets.US_ASCII);
        assertTrue(header.endsWith("\n"), "the header does not end in a newline");
        String dict = header.substring(0, header.length() - 1).stripTrailing();
        String padding = header.substring(dict.length(), header.length() - 1);
        assertTrue(padding.chars().allMatch(c -> c == ' '), "padding other than spaces");
        Matcher m = DICT.matcher(dict);
        assertTrue(m.matches(), "header dict: " + dict);
        String dims = m.group(3);
        assertTrue(dims.isEmpty() || DIMS.matcher(dims).matches(), "shape tuple: (" + dims + ")");
        long[] shape = dims.isEmpty() ? new long[0]
                : Arrays.stream(dims.split(",")).map(String::strip).filter(s -> !s.isEmpty()).mapToLong(Long::parseLong).toArray();
        if (shape.length == 1) assertTrue(dims.endsWith(","), "a one-element tuple needs its comma: (" + dims + ")");
        else assertTrue(!dims.endsWith(","), "stray comma in (" + dims + ")");
        String descr = m.group(1);
        int itemSize = Integer.parseInt(descr.substring(2));
        long n = 1;
        for (long d : shape) n *= d;
        assertEquals(n * itemSize, bytes.length - dataOffset, "data bytes for shape " + Arrays.toString(shape));
        ByteBuffer data = ByteBuffer.wrap(bytes, dataOffset, bytes.length - dataOffset).slice();
        return new Npy(major, minor, (int) headerLength, dict, descr, m.group(2).equals("True"), shape, dataOffset, data);
    }
}
