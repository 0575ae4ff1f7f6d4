package org.dreamteacher.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The command line in a child JVM (as users run it), which a test can kill with SIGKILL
 * ({@link Process#destroyForcibly()} on Linux). One libtorch thread, passive OpenMP waiting, no progress bars.
 */
final class ChildCli implements AutoCloseable {
    private final Process process;
    private final StringBuffer out = new StringBuffer(), err = new StringBuffer();
    private final CountDownLatch started = new CountDownLatch(1);
    private final Thread outReader, errReader;
    private final long t0 = System.nanoTime();

    private ChildCli(Process process, String startLine) {
        this.process = process;
        outReader = reader(new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)), out, startLine);
        errReader = reader(new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8)), err, null);
    }

    /**
     * Starts {@code dreamteacher args...}; {@link #awaitStart} returns once a line of standard output starts with
     * {@code startLine} (the command's first line, printed when its work begins).
     */
    static ChildCli start(String startLine, List<String> args) throws IOException {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        cmd.addAll(List.of("-cp", classPath, DreamTeacherCli.class.getName(), "--threads", "1", "--no-progress"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        pb.environment().put("OMP_NUM_THREADS", "1");
        return new ChildCli(pb.start(), startLine);
    }

    private Thread reader(BufferedReader r, StringBuffer sink, String startLine) {
        Thread t = new Thread(() -> {
            try (r) {
                for (String line; (line = r.readLine()) != null; ) {
                    sink.append(line).append('\n');
                    if (startLine != null && line.startsWith(startLine)) started.countDown();
                }
            } catch (IOException ignored) {
                // the process was killed
            } finally {
                started.countDown();
            }
        }, "child-cli-reader");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Waits until the command has begun its work (or ended); false on timeout. */
    boolean awaitStart(long seconds) throws InterruptedException {
        return started.await(seconds, TimeUnit.SECONDS);
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL, then waits for the process to be gone. */
    void kill() throws InterruptedException {
        // the whole job: a --nproc launcher's workers first (SIGKILL to the launcher alone would orphan them)
        List<ProcessHandle> workers = process.descendants().toList();
        workers.forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        process.waitFor();
        for (ProcessHandle w : workers) w.onExit().join();
    }

    /** Waits for the exit (killing the process after {@code seconds}) and returns its code. */
    int waitFor(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            kill();
            throw new AssertionError("the child did not end within " + seconds + " s\nstdout:\n" + out + "\nstderr:\n" + err);
        }
        outReader.join(5_000);
        errReader.join(5_000);
        return process.exitValue();
    }

    double secondsSinceStart() {
        return (System.nanoTime() - t0) / 1e9;
    }

    String out() {
        return out.toString();
    }

    String err() {
        return err.toString();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) kill();
    }
}
