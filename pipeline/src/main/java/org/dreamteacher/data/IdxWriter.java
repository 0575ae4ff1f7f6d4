package org.dreamteacher.data;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.GZIPOutputStream;
import org.dreamteacher.torch.AtomicWrite;

/**
 * Writes IDX files (optionally gzip-compressed) readable by {@link IdxReader} and by the usual MNIST loaders.
 * Writing goes to a temporary file that is renamed over the target, so a reader never sees half a file. The
 * gzip output of the JDK carries no time stamp, so the same array always gives the same bytes.
 */
public final class IdxWriter {
    private IdxWriter() {}

    public static void write(Path file, IdxArray array, boolean gzip) throws IOException {
        // data files are ordinary readable files
        AtomicWrite.writePath(file, AtomicWrite.Access.EVERYONE, tmp -> {
            try (OutputStream raw = Files.newOutputStream(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                    OutputStream out = new BufferedOutputStream(gzip ? new GZIPOutputStream(raw, 1 << 16) : raw, 1 << 16)) {
                out.write(new byte[] {0, 0, (byte) array.type(), (byte) array.rank()});
                for (int d : array.dims()) out.write(new byte[] {(byte) (d >>> 24), (byte) (d >>> 16), (byte) (d >>> 8), (byte) d});
                out.write(array.data());
            }
        });
    }

    /** Writes unsigned bytes with the given dimensions. */
    public static void writeUnsignedBytes(Path file, int[] dims, byte[] data, boolean gzip) throws IOException {
        write(file, new IdxArray(IdxArray.UNSIGNED_BYTE, dims, data), gzip);
    }
}
