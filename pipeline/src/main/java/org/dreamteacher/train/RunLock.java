package org.dreamteacher.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive lock on a run folder, held while a run writes there: a second run with the same folder (another
 * process, or another run in this one) fails at once with a message naming the holder's process id, instead of
 * interleaving its checkpoints and metrics with the first's. The lock is the operating system's
 * ({@link FileChannel#tryLock}) on {@code run.lock}, so it ends with the process, even on kill -9; the file
 * itself stays (deleting it would let two runs lock two different files) and holds the last holder's pid.
 */
public final class RunLock implements AutoCloseable {
    public static final String FILE = "run.lock";
    private final FileChannel channel;
    private final FileLock lock;

    private RunLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Locks {@code runDir} (created if needed) or throws an IllegalStateException naming the holder. */
    public static RunLock acquire(Path runDir) throws IOException {
        Files.createDirectories(runDir);
        Path file = runDir.resolve(FILE);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException sameProcess) {
            lock = null;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            String holder;
            try {
                holder = Files.readString(file, StandardCharsets.US_ASCII).trim();
            } catch (IOException e) {
                holder = "";
            }
            ch.close();
            throw new IllegalStateException(runDir + " is in use by another run (" + (holder.isEmpty() ? "process unknown" : holder)
                    + ", per " + file + "): wait for it to end, or choose another --out folder");
        }
        try {
            byte[] pid = ("pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(pid), 0);
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            lock.release();
            ch.close();
            throw e;
        }
        return new RunLock(ch, lock);
    }

    @Override
    public void close() throws IOException {
        try {
            if (lock.isValid()) lock.release();
        } finally {
            channel.close();
        }
    }

    /** A run's body, which may fail with an {@link IOException}. */
    @FunctionalInterface
    public interface Body<T> {
        T run() throws IOException;
    }

    /**
     * Runs {@code body} holding the lock of {@code runDir} when this process writes the folder ({@code writesFiles}:
     * rank 0, or a single process); other ranks write nothing there and run it without the lock.
     */
    public static <T> T holding(Path runDir, boolean writesFiles, Body<T> body) throws IOException {
        if (!writesFiles) return body.run();
        try (RunLock lock = acquire(runDir)) {
            return body.run();
        }
    }
}
