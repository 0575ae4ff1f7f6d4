package org.dreamteacher.data;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.zip.GZIPOutputStream;

/**
 * Writes IDX files (optionally gzip-compressed) readable by {@link IdxReader} and by the usual MNIST loaders.
 * Writing goes to a temporary file that is renamed over the target, so a reader never sees half a file. The
 * gzip output of the JDK carries no time stamp, so the same array always gives the same bytes.
 */
public final class IdxWriter {
    private IdxWriter() {}

    public static void write(Path file, IdxArray array, boolean gzip) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            try {
                // createTempFile makes owner-only files; data files are ordinary readable files.
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system
            }
            try (OutputStream raw = Files.newOutputStream(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                    OutputStream out = new BufferedOutputStream(gzip ? new GZIPOutputStream(raw, 1 << 16) : raw, 1 << 16)) {
                out.write(new byte[] {0, 0, (byte) array.type(), (byte) array.rank()});
                for (int d : array.dims()) out.write(new byte[] {(byte) (d >>> 24), (byte) (d >>> 16), (byte) (d >>> 8), (byte) d});
                out.write(array.data());
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** Writes unsigned bytes with the given dimensions. */
    public static void writeUnsignedBytes(Path file, int[] dims, byte[] data, boolean gzip) throws IOException {
        write(file, new IdxArray(IdxArray.UNSIGNED_BYTE, dims, data), gzip);
    }
}
