package org.dreamteacher.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads IDX files, the format of MNIST and Fashion-MNIST: {@code 0x00 0x00 type ndims}, then {@code ndims}
 * big-endian int32 dimensions, then the elements. Gzip compression is recognised by its magic bytes
 * (0x1f 0x8b), not by the file name.
 *
 * <p>The header is never trusted for allocation: a raw file's declared size is checked against the real file
 * size before anything is allocated, and a compressed stream is read into a buffer that grows only as
 * decompressed bytes actually arrive (capped at the declared size), so a forged header that claims billions
 * of images in a 100-byte file fails at once with a {@link CorruptDataException} rather than an
 * {@link OutOfMemoryError}. Truncated data, trailing bytes, a bad magic, a zero or negative dimension and a
 * size that overflows are all errors whose message names the source and the problem.
 */
public final class IdxReader {
    /** The most dimensions accepted (MNIST uses 1 and 3). */
    public static final int MAX_DIMS = 8;
    /** The default cap on the number of elements: the largest Java array. */
    public static final long DEFAULT_MAX_ELEMENTS = Integer.MAX_VALUE - 8;
    private static final int FIRST_CHUNK = 1 << 16;

    private IdxReader() {}

    /** Reads a raw or gzip-compressed IDX file. */
    public static IdxArray read(Path file) throws IOException {
        return read(file, DEFAULT_MAX_ELEMENTS);
    }

    /** Reads a raw or gzip-compressed IDX file holding at most {@code maxElements} elements. */
    public static IdxArray read(Path file, long maxElements) throws IOException {
        String source = file.toString();
        if (!Files.isRegularFile(file)) throw new DataException(source, "no such file");
        long size = Files.size(file);
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, source, size, maxElements);
        }
    }

    /**
     * Reads a raw or gzip-compressed IDX array from a stream (a classpath resource, say) of unknown length;
     * {@code source} names it in errors. The stream is read to its end but not closed.
     */
    public static IdxArray read(InputStream in, String source) throws IOException {
        return read(in, source, -1, DEFAULT_MAX_ELEMENTS);
    }

    private static IdxArray read(InputStream stream, String source, long rawSize, long maxElements) throws IOException {
        if (maxElements < 1 || maxElements > DEFAULT_MAX_ELEMENTS)
            throw new IllegalArgumentException("maxElements must be in 1.." + DEFAULT_MAX_ELEMENTS + ": " + maxElements);
        BufferedInputStream buffered = new BufferedInputStream(stream, FIRST_CHUNK);
        buffered.mark(2);
        int b0 = buffered.read(), b1 = buffered.read();
        buffered.reset();
        boolean gzip = b0 == 0x1f && b1 == 0x8b;
        try {
            InputStream in = gzip ? new GZIPInputStream(buffered, FIRST_CHUNK) : buffered;
            return parse(in, source + (gzip ? " (gzip)" : ""), gzip ? -1 : rawSize, maxElements);
        } catch (EOFException | ZipException e) {
            throw new CorruptDataException(source, "truncated or corrupt gzip data (" + e.getMessage() + ")", e);
        }
    }

    private static IdxArray parse(InputStream in, String source, long knownSize, long maxElements) throws IOException {
        byte[] magic = new byte[4];
        int got = readUpTo(in, magic, 0, 4);
        if (got < 4) throw new CorruptDataException(source, "truncated: " + got + " bytes, shorter than an IDX header");
        if (magic[0] != 0 || magic[1] != 0)
            throw new CorruptDataException(source, String.format(
                    "not an IDX file: magic 0x%02X%02X%02X%02X does not start with 0x0000", magic[0], magic[1], magic[2], magic[3]));
        int type = magic[2] & 0xFF;
        String typeName = typeName(type);
        if (typeName == null) throw new CorruptDataException(source, String.format("unknown IDX element type 0x%02X", type));
        if (type != IdxArray.UNSIGNED_BYTE && type != IdxArray.SIGNED_BYTE)
            throw new CorruptDataException(source, String.format(
                    "IDX element type 0x%02X (%s) is not supported; this reader handles 0x08 (unsigned byte) and 0x09 (signed byte)",
                    type, typeName));
        int ndims = magic[3] & 0xFF;
        if (ndims < 1 || ndims > MAX_DIMS)
            throw new CorruptDataException(source, "dimension count " + ndims + " is outside 1.." + MAX_DIMS);

        byte[] header = new byte[4 * ndims];
        got = readUpTo(in, header, 0, header.length);
        if (got < header.length)
            throw new CorruptDataException(source, "truncated header: " + ndims + " dimensions declared, the data ends after " + got / 4);
        int[] dims = new int[ndims];
        long count = 1;
        boolean overflow = false;
        for (int i = 0; i < ndims; i++) {
            long d = ((header[4 * i] & 0xFFL) << 24) | ((header[4 * i + 1] & 0xFFL) << 16) | ((header[4 * i + 2] & 0xFFL) << 8)
                    | (header[4 * i + 3] & 0xFFL);
            if (d == 0 || d > Integer.MAX_VALUE)
                throw new CorruptDataException(source, "dimension " + i + " is " + (int) d + "; dimensions must be between 1 and 2^31-1");
            dims[i] = (int) d;
            if (!overflow) {
                try {
                    count = Math.multiplyExact(count, d);
                } catch (ArithmeticException e) {
                    overflow = true;
                }
            }
        }
        String shape = shape(dims);
        if (overflow) throw new CorruptDataException(source, "dimensions " + shape + " overflow a 64-bit element count");
        if (count > maxElements)
            throw new CorruptDataException(source, "dimensions " + shape + " declare " + count + " elements, more than the limit of "
                    + maxElements);

        long headerBytes = 4L + 4L * ndims;
        byte[] data;
        if (knownSize >= 0) {
            long expected = headerBytes + count;
            if (knownSize < expected)
                throw new CorruptDataException(source, "truncated: dimensions " + shape + " need " + count + " data bytes but the file has "
                        + Math.max(0, knownSize - headerBytes));
            if (knownSize > expected)
                throw new CorruptDataException(source, (knownSize - expected) + " trailing bytes after the " + count
                        + " data bytes that dimensions " + shape + " declare");
            data = new byte[(int) count];
            got = readUpTo(in, data, 0, data.length);
            if (got < data.length)
                throw new CorruptDataException(source, "truncated while reading: " + got + " of " + count + " data bytes");
        } else {
            data = readGrowing(in, (int) count, source, shape);
        }
        if (in.read() >= 0) {
            long extra = 1 + in.skip(1 << 20);
            throw new CorruptDataException(source, (extra > (1 << 20) ? "more than " + (1 << 20) : String.valueOf(extra))
                    + " trailing bytes after the " + count + " data bytes that dimensions " + shape + " declare");
        }
        return new IdxArray(type, dims, data);
    }

    /** Reads exactly {@code count} bytes into a buffer that grows with the bytes actually read. */
    private static byte[] readGrowing(InputStream in, int count, String source, String shape) throws IOException {
        byte[] buf = new byte[Math.min(count, FIRST_CHUNK)];
        int filled = 0;
        while (filled < count) {
            if (filled == buf.length) {
                int next = (int) Math.min(count, Math.max(FIRST_CHUNK, 2L * buf.length));
                buf = Arrays.copyOf(buf, next);
            }
            int n = in.read(buf, filled, buf.length - filled);
            if (n < 0)
                throw new CorruptDataException(source, "truncated: dimensions " + shape + " need " + count
                        + " data bytes but the data ends after " + filled);
            filled += n;
        }
        return buf;
    }

    private static int readUpTo(InputStream in, byte[] b, int off, int len) throws IOException {
        int total = 0;
        while (total < len) {
            int n = in.read(b, off + total, len - total);
            if (n < 0) break;
            total += n;
        }
        return total;
    }

    static String shape(int[] dims) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < dims.length; i++) sb.append(i == 0 ? "" : " x ").append(Integer.toUnsignedString(dims[i]));
        return sb.toString();
    }

    private static String typeName(int type) {
        switch (type) {
            case 0x08: return "unsigned byte";
            case 0x09: return "signed byte";
            case 0x0B: return "int16";
            case 0x0C: return "int32";
            case 0x0D: return "float32";
            case 0x0E: return "float64";
            default: return null;
        }
    }
}
