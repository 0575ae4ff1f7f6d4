package org.dreamteacher.data;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import org.dreamteacher.torch.AtomicWrite;

/**
 * Writes one array in NumPy's {@code .npy} format (readable by {@code numpy.load}), streamed: the shape is fixed
 * when the file is opened, the values follow in row-major order in as many calls as suit the caller, so an array
 * larger than memory can be written. The values go to a temporary file in the target's folder; {@link #commit()}
 * checks that every value arrived, forces the file to disk and renames it over the target, so a reader never sees
 * half an array under the final name, and closing without a commit deletes the temporary file.
 *
 * <p>The layout is format version 1.0 (2.0 when the header does not fit version 1.0's 16-bit length): the magic
 * string, the version, the little-endian header length, then the header, a Python dict literal such as
 * {@code {'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }} padded with spaces and ended by a newline
 * so that the data starts at a multiple of 64 bytes, then the values, little-endian.
 *
 * <p>Not thread-safe: one writer per thread.
 */
public final class NpyWriter implements Closeable {
    /** Element types that can be written, with their NumPy type strings. */
    public enum DType {
        /** 32-bit IEEE float, little-endian. */
        FLOAT32("<f4", 4),
        /** 64-bit signed integer, little-endian. */
        INT64("<i8", 8);

        private final String descr;
        private final int bytes;

        DType(String descr, int bytes) {
            this.descr = descr;
            this.bytes = bytes;
        }

        /** NumPy's type string, e.g. {@code <f4}. */
        public String descr() {
            return descr;
        }

        /** Bytes per value. */
        public int bytes() {
            return bytes;
        }
    }

    /** The magic string that starts every {@code .npy} file. */
    static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** NumPy aligns the start of the data to this many bytes. */
    public static final int ALIGNMENT = 64;
    private static final int BUFFER_BYTES = 1 << 16;

    private final Path file;
    private final Path tmp;
    private final DType dtype;
    private final long[] shape;
    private final long total;
    private final FileChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private long written;
    private boolean open = true;

    private NpyWriter(Path file, Path tmp, DType dtype, long[] shape, long total, FileChannel channel) {
        this.file = file;
        this.tmp = tmp;
        this.dtype = dtype;
        this.shape = shape;
        this.total = total;
        this.channel = channel;
    }

    /**
     * Starts writing an array of {@code dtype} and {@code shape} to {@code file} (its folder is created if
     * needed); nothing appears under {@code file} before {@link #commit()}. Fails with an IOException naming the
     * file when it cannot be written.
     */
    public static NpyWriter open(Path file, DType dtype, long... shape) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(dtype, "dtype");
        long[] dims = shape.clone();
        long total = count(dims, dtype);
        byte[] header = header(dtype, dims);
        Path target = file.toAbsolutePath().normalize();
        Path dir = target.getParent();
        if (Files.isDirectory(target)) throw new IOException("cannot write " + file + ": it is a folder");
        Path tmp;
        try {
            Files.createDirectories(dir);
            // arrays are ordinary readable files
            tmp = AtomicWrite.temporaryFile(target, AtomicWrite.Access.EVERYONE);
        } catch (IOException e) {
            throw new IOException("cannot write " + file + ": " + reason(e), e);
        }
        FileChannel ch = null;
        try {
            ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            NpyWriter w = new NpyWriter(file, tmp, dtype, dims, total, ch);
            w.writeFully(ByteBuffer.wrap(header));
            return w;
        } catch (IOException e) {
            if (ch != null) ch.close();
            Files.deleteIfExists(tmp);
            throw new IOException("cannot write " + file + ": " + reason(e), e);
        } catch (RuntimeException e) {
            if (ch != null) ch.close();
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** Writes a whole float32 array at once (atomically, as the streamed form). */
    public static void writeFloats(Path file, float[] values, long... shape) throws IOException {
        try (NpyWriter w = open(file, DType.FLOAT32, shape)) {
            w.writeFloats(values, 0, values.length);
            w.commit();
        }
    }

    /** Writes a whole int64 array at once (atomically, as the streamed form). */
    public static void writeLongs(Path file, long[] values, long... shape) throws IOException {
        try (NpyWriter w = open(file, DType.INT64, shape)) {
            w.writeLongs(values, 0, values.length);
            w.commit();
        }
    }

    /**
     * The bytes before the data of an array of {@code dtype} and {@code shape}: magic, version, header length and
     * the padded header; their count is a multiple of {@link #ALIGNMENT}.
     */
    public static byte[] header(DType dtype, long... shape) {
        StringBuilder dict = new StringBuilder("{'descr': '").append(dtype.descr()).append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) throw new IllegalArgumentException("negative dimension " + shape[i] + " in the shape");
            if (i > 0) dict.append(", ");
            dict.append(shape[i]);
        }
        // Python writes a one-element tuple with a trailing comma: (n,).
        if (shape.length == 1) dict.append(',');
        dict.append("), }");
        int dictBytes = dict.length(); // ASCII only
        int version = 1;
        int prefix = MAGIC.length + 2 + 2;
        if (padded(prefix, dictBytes) > 0xFFFF) {
            version = 2;
            prefix = MAGIC.length + 2 + 4;
        }
        int headerLen = padded(prefix, dictBytes);
        ByteBuffer b = ByteBuffer.allocate(prefix + headerLen).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) version).put((byte) 0);
        if (version == 1) b.putShort((short) headerLen);
        else b.putInt(headerLen);
        b.put(dict.toString().getBytes(StandardCharsets.US_ASCII));
        while (b.remaining() > 1) b.put((byte) ' ');
        b.put((byte) '\n');
        return b.array();
    }

    /** The header length (dict, spaces, newline) that makes {@code prefix + length} a multiple of the alignment. */
    private static int padded(int prefix, int dictBytes) {
        int unpadded = prefix + dictBytes + 1;
        int spaces = (ALIGNMENT - unpadded % ALIGNMENT) % ALIGNMENT;
        return dictBytes + spaces + 1;
    }

    /** The final file (the target given to {@link #open}). */
    public Path file() {
        return file;
    }

    /** The shape of the array. */
    public long[] shape() {
        return shape.clone();
    }

    /** Values written so far. */
    public long written() {
        return written;
    }

    /** Appends {@code length} float32 values from {@code values[offset..]}, continuing in row-major order. */
    public void writeFloats(float[] values, int offset, int length) throws IOException {
        checkWrite(DType.FLOAT32, values.length, offset, length);
        for (int i = offset; i < offset + length; i++) {
            if (buffer.remaining() < Float.BYTES) drain();
            buffer.putFloat(values[i]);
        }
        written += length;
    }

    /** Appends {@code length} int64 values from {@code values[offset..]}, continuing in row-major order. */
    public void writeLongs(long[] values, int offset, int length) throws IOException {
        checkWrite(DType.INT64, values.length, offset, length);
        for (int i = offset; i < offset + length; i++) {
            if (buffer.remaining() < Long.BYTES) drain();
            buffer.putLong(values[i]);
        }
        written += length;
    }

    /**
     * Finishes the file: checks that the shape's every value was written, forces the data to disk and renames the
     * temporary file over the target (atomically where the file system can). Returns the target.
     */
    public Path commit() throws IOException {
        if (!open) throw new IllegalStateException("the writer of " + file + " is closed");
        if (written != total)
            throw new IllegalStateException(file + ": " + written + " of " + total + " values written; the shape needs all of them");
        try {
            drain();
            channel.force(true);
            channel.close();
            open = false;
            AtomicWrite.replace(tmp, file);
        } catch (IOException e) {
            discard();
            throw new IOException("cannot write " + file + ": " + reason(e), e);
        }
        return file;
    }

    /** Deletes the temporary file unless {@link #commit()} succeeded; the target is left as it was. */
    @Override
    public void close() throws IOException {
        if (open) discard();
    }

    private void discard() throws IOException {
        open = false;
        try {
            channel.close();
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private void checkWrite(DType type, int arrayLength, int offset, int length) {
        if (!open) throw new IllegalStateException("the writer of " + file + " is closed");
        if (type != dtype) throw new IllegalArgumentException(file + " holds " + dtype + " values, not " + type);
        Objects.checkFromIndexSize(offset, length, arrayLength);
        if (length > total - written)
            throw new IllegalArgumentException(file + ": " + length + " more values would exceed the shape's " + total + " (" + written + " written)");
    }

    private void drain() throws IOException {
        buffer.flip();
        writeFully(buffer);
        buffer.clear();
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) channel.write(b);
    }

    /** Values in the shape, checked to fit a file (bytes must stay within a long). */
    private static long count(long[] shape, DType dtype) {
        long n = 1;
        for (long d : shape) if (d < 0) throw new IllegalArgumentException("negative dimension " + d + " in the shape");
        try {
            for (long d : shape) n = Math.multiplyExact(n, d);
            Math.multiplyExact(n, (long) dtype.bytes());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape) + " is too large for a file");
        }
        return n;
    }

    private static String reason(IOException e) {
        if (e instanceof java.nio.file.NoSuchFileException) return "no such folder";
        if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
        if (e instanceof java.nio.file.FileAlreadyExistsException f) return f.getFile() + " is in the way (not a folder)";
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) return f.getReason();
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
