package org.dreamteacher.kernels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Leak checks on the process's resident memory ({@code VmRSS} in {@code /proc/self/status}), shared by the
 * native-memory tests of every module.
 *
 * <p>A leak grows memory in proportion to the work done, so it shows in every window of equal work. What a process
 * gains once (the JIT compiler's arenas, larger on machines with more compiler threads; a worker thread's first
 * malloc arena; an allocator's pools) shows in one window and not in the next. {@link #assertFlat} therefore runs up
 * to {@code windows} equal windows after the caller's warm-up and passes as soon as one of them stays within the
 * allowed growth; it fails only when every window grew by more.
 */
public final class ResidentMemory {
    private ResidentMemory() {}

    /** One window of work; may throw, and a failure inside it fails the test at once. */
    @FunctionalInterface
    public interface Window {
        void run() throws Exception;
    }

    /** The process's resident set size in kB. */
    public static long rssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    /**
     * Runs {@code window} up to {@code windows} times and returns once the resident memory grew by at most
     * {@code allowedKb} over one of them; throws {@link AssertionError} with every window's growth otherwise.
     */
    public static void assertFlat(String label, int windows, long allowedKb, Window window) throws Exception {
        if (windows < 1) throw new IllegalArgumentException("windows must be >= 1, got " + windows);
        StringBuilder seen = new StringBuilder();
        for (int i = 0; i < windows; i++) {
            System.gc();
            long before = rssKb();
            window.run();
            System.gc();
            long after = rssKb();
            System.out.printf("%s: RSS %d kB -> %d kB over window %d%n", label, before, after, i + 1);
            if (after - before <= allowedKb) return;
            seen.append(i == 0 ? " " : ", ").append(after - before).append(" kB");
        }
        throw new AssertionError(label + ": resident memory grew in each of " + windows + " windows, by" + seen
                + " (allowed " + allowedKb + " kB in one window)");
    }
}
