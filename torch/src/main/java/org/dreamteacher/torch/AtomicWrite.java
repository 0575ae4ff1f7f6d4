package org.dreamteacher.torch;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Writes a file so that a reader never sees a partial one under its final name: the bytes go to a temporary
 * file in the same folder, which is forced to disk, renamed over the target, and the folder is synced so that
 * the rename itself survives a crash. Model files, data files, pictures, manifests and reports are written
 * through it; a crash leaves at most a temporary file named {@code .NAME.DIGITS.tmp} beside the target, which run
 * folders clean up on resume.
 */
public final class AtomicWrite {
    /** Writes the content of a file to an open channel. */
    @FunctionalInterface
    public interface Body {
        void write(FileChannel channel) throws IOException;
    }

    /** Writes the content of a file to the temporary file's path, for writers that open files themselves (streams, ImageIO). */
    @FunctionalInterface
    public interface PathBody {
        void write(Path temporary) throws IOException;
    }

    /** Who may read the written file. */
    public enum Access {
        /** Only its owner ({@code rw-------}), as temporary files are made. */
        OWNER,
        /** Everyone ({@code rw-r--r--}), for data files, pictures and reports meant to be shared. */
        EVERYONE
    }

    private AtomicWrite() {}

    /**
     * Creates or replaces {@code file} with what {@code body} writes. On failure the temporary file is removed,
     * the previous version of {@code file} (if any) is left as it was, and an {@link IOException} names the file.
     * A {@link TensorFileException} from {@code body} already names it and passes through unchanged.
     */
    public static void write(Path file, Body body) throws IOException {
        write(file, Access.OWNER, body);
    }

    /** As {@link #write(Path, Body)}, readable by {@code access}. */
    public static void write(Path file, Access access, Body body) throws IOException {
        writePath(file, access, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                body.write(ch);
            }
        });
    }

    /** As {@link #write(Path, Body)}, with {@code text} in UTF-8 as the content. */
    public static void writeString(Path file, Access access, String text) throws IOException {
        byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        write(file, access, ch -> writeFully(ch, ByteBuffer.wrap(bytes)));
    }

    /**
     * As {@link #write(Path, Body)}, for a body that writes the temporary file by its path and closes what it
     * opened; the file is forced to disk after the body returns.
     */
    public static void writePath(Path file, Access access, PathBody body) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = temporaryFile(file, access);
        try {
            body.write(tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            replace(tmp, file);
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

    /**
     * A new empty temporary file beside {@code file} (whose folder must exist), for writers that stream into it
     * over a longer time and finish with {@link #replace}; the caller deletes it when it gives up.
     */
    public static Path temporaryFile(Path file, Access access) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        if (access == Access.EVERYONE) {
            try {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system: its default permissions apply
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
        }
        return tmp;
    }

    /**
     * Renames {@code tmp}, already forced to disk by its writer, over {@code file} in the same folder (atomically
     * where the file system can) and syncs the folder.
     */
    public static void replace(Path tmp, Path file) throws IOException {
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
        sync(file.toAbsolutePath().getParent());
    }

    /**
     * Forces a file or a folder (its entries: renames into it) to disk, as far as the file system can; one that
     * cannot fsync a folder is passed over, since the rename itself is still atomic there.
     */
    public static void sync(Path fileOrFolder) {
        try (FileChannel ch = FileChannel.open(fileOrFolder, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // passed over, as said above
        }
    }
}
