package org.dreamteacher.torch;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a file so that a reader never sees a partial one under its final name: the bytes go to a temporary
 * file in the same folder, which is forced to disk, renamed over the target, and the folder is synced so that
 * the rename itself survives a crash. {@link TensorFile} and {@link SafeTensors} write through it.
 */
public final class AtomicWrite {
    /** Writes the content of a file to an open channel. */
    @FunctionalInterface
    public interface Body {
        void write(FileChannel channel) throws IOException;
    }

    private AtomicWrite() {}

    /**
     * Creates or replaces {@code file} with what {@code body} writes. On failure the temporary file is removed,
     * the previous version of {@code file} (if any) is left as it was, and an {@link IOException} names the file.
     * A {@link TensorFileException} from {@code body} already names it and passes through unchanged.
     */
    public static void write(Path file, Body body) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                body.write(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            syncDirectory(dir);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            // Name the file: a bare "No space left on device" does not say what was lost.
            if (e instanceof IOException io && !(io instanceof TensorFileException))
                throw new IOException(file + ": cannot write: " + io.getMessage() + (Files.exists(file) ? " (its previous version is kept)" : ""), io);
            throw e;
        }
    }

    /** Writes all of {@code buf} (from its position to its limit). */
    public static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // Some file systems cannot fsync a directory; the rename itself is still atomic there.
        }
    }
}
