package org.dreamteacher.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One run per folder (a lock naming the holder's process), and a metrics log that a resume never rewrites in place. */
class RunFolderTest {
    @TempDir
    Path dir;

    /** Child process: locks the folder in args[0], says "locked", and holds the lock until its input closes. */
    public static void main(String[] args) throws Exception {
        try (RunLock lock = RunLock.acquire(Path.of(args[0]))) {
            System.out.println("locked");
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait
            }
        }
    }

    @Test
    void aSecondRunInTheSameFolderIsRefusedNamingTheFirstsProcess() throws Exception {
        Path run = dir.resolve("run");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), RunFolderTest.class.getName(), run.toString()).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("locked", out.readLine());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> RunLock.acquire(run));
            assertTrue(e.getMessage().contains("is in use by another run (pid " + child.pid() + ","), e.getMessage());
        } finally {
            child.getOutputStream().close();
            child.waitFor();
        }
        // the holder has ended: the folder is free again, and a second lock from this process is refused
        try (RunLock lock = RunLock.acquire(run)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> RunLock.acquire(run));
            assertTrue(e.getMessage().contains("pid " + ProcessHandle.current().pid()), e.getMessage());
        }
        RunLock.acquire(run).close();
    }

    @Test
    void aKilledHolderReleasesTheFolder() throws Exception {
        // a holder killed with SIGKILL releases the lock with its process
        Path run = dir.resolve("killed");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), RunFolderTest.class.getName(), run.toString()).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        assertEquals("locked", out.readLine());
        child.destroyForcibly().waitFor();
        RunLock.acquire(run).close();
    }

    @Test
    void aResumeNeverRewritesTheLogInPlace() throws Exception {
        Path log = dir.resolve("metrics.jsonl");
        List<String> lines = List.of("{\"step\":10,\"loss\":1.0}", "{\"step\":20,\"loss\":0.5}", "{\"step\":30,\"loss\":0.25}");
        Files.write(log, lines, StandardCharsets.UTF_8);
        // a second name for the same file: a rewrite in place would change what it reads
        Path link = dir.resolve("link.jsonl");
        Files.createLink(link, log);
        try (MetricsLog m = MetricsLog.open(log, 30)) { // nothing to drop: appended to, the same file
            m.write(m.record(40).put("loss", 0.125));
        }
        List<String> four = Files.readAllLines(link, StandardCharsets.UTF_8);
        assertEquals(4, four.size(), "appended in place: " + four);
        try (MetricsLog m = MetricsLog.open(log, 20)) { // lines past step 20 dropped: a new file, renamed over
            m.write(m.record(30).put("loss", 0.3));
        }
        assertEquals(four, Files.readAllLines(link, StandardCharsets.UTF_8), "the old file was rewritten in place");
        assertEquals(List.of(lines.get(0), lines.get(1), "{\"step\":30,\"loss\":0.3}"), Files.readAllLines(log, StandardCharsets.UTF_8));
        // a line cut by a crash is dropped the same way
        Files.writeString(log, lines.get(0) + "\n{\"step\":20,\"lo", StandardCharsets.UTF_8);
        MetricsLog.open(log, 30).close();
        assertEquals(List.of(lines.get(0)), Files.readAllLines(log, StandardCharsets.UTF_8));
        try (var s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".")), "temporary file left");
        }
    }

    /**
     * The ranks of a data-parallel run resume from the same folder, and each clears a save that a kill interrupted
     * ({@code checkpoints/.step-N.nanos}); when both do so at once, the files one deletes vanish under the other,
     * which must go on, not fail the resume.
     */
    @Test
    void twoRanksClearingTheSameInterruptedSaveAtOnceBothSucceed() throws Exception {
        for (int round = 0; round < 40; round++) {
            Path run = dir.resolve("run-" + round);
            Path partial = run.resolve("checkpoints").resolve(".step-00000021.156033179496472070");
            for (int d = 0; d < 8; d++) {
                Path sub = Files.createDirectories(partial.resolve("part-" + d));
                for (int f = 0; f < 25; f++) Files.writeString(sub.resolve("f" + f), "x");
            }
            CyclicBarrier together = new CyclicBarrier(2);
            Callable<Optional<RunCheckpoints.Snapshot>> rank = () -> {
                together.await();
                return new RunCheckpoints(run, 2).start(true);
            };
            ExecutorService ranks = Executors.newFixedThreadPool(2);
            try {
                List<Future<Optional<RunCheckpoints.Snapshot>>> started = ranks.invokeAll(List.of(rank, rank));
                for (Future<Optional<RunCheckpoints.Snapshot>> f : started) assertTrue(f.get().isEmpty(), "no complete checkpoint to resume from");
            } finally {
                ranks.shutdownNow();
            }
            assertFalse(Files.exists(partial), "the interrupted save is gone");
        }
    }
}
