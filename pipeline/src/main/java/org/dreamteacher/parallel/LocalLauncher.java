package org.dreamteacher.parallel;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Starts the {@code nproc} worker processes of a data-parallel run on this machine, as {@code torchrun
 * --nproc-per-node} does: each gets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in its environment,
 * OMP_NUM_THREADS (its libtorch thread pool, sized so that nproc x threads {@code <=} cores) and OMP_WAIT_POLICY=PASSIVE
 * unless set. Rank 0's standard output is passed through, the others' is dropped; every rank's standard error
 * is passed through. When a worker fails the others are given the run's timeout (plus a grace period) to stop
 * on their own, then killed; the launcher returns the first failing worker's exit code, or 0.
 */
public final class LocalLauncher {
    private static final System.Logger LOG = System.getLogger(LocalLauncher.class.getName());

    /** Set in the workers' environment: the worker's rank on this machine. */
    public static final String LOCAL_RANK = "LOCAL_RANK";
    private static final long GRACE_MS = 10_000;

    private LocalLauncher() {}

    /** Threads per worker: the cores shared out, at least 1. */
    public static int threadsPerWorker(int nproc) {
        return Math.max(1, Runtime.getRuntime().availableProcessors() / nproc);
    }

    /**
     * A TCP port free on this machine now; another process may take it before it is used. {@link #run} with
     * port 0 avoids that race (rank 0 binds a free port itself).
     */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /**
     * Runs {@code command} (a whole command line, e.g. {@code java -cp ... Main args}) as {@code nproc} ranks
     * meeting at {@code masterAddr:masterPort} (port 0: rank 0 binds a free one and tells the others through a
     * file, {@link Rendezvous}), each with {@code threads} threads; waits for all of them.
     */
    public static int run(List<String> command, int nproc, String masterAddr, int masterPort, int threads, long timeoutMs)
            throws IOException, InterruptedException {
        // Port 0: rank 0 binds a free port itself and publishes it in this file (see Rendezvous), so that no other
        // process can take the port between its choice and the bind.
        java.nio.file.Path rendezvousFile = null;
        if (masterPort == 0) {
            java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("dt-rendezvous-");
            dir.toFile().deleteOnExit();
            rendezvousFile = dir.resolve("port");
            rendezvousFile.toFile().deleteOnExit();
        }
        List<Process> workers = new ArrayList<>();
        Thread killer = new Thread(() -> workers.forEach(Process::destroyForcibly));
        Runtime.getRuntime().addShutdownHook(killer);
        try {
            for (int rank = 0; rank < nproc; rank++) {
                ProcessBuilder pb = new ProcessBuilder(command);
                Map<String, String> env = pb.environment();
                env.put("WORLD_SIZE", Integer.toString(nproc));
                env.put("RANK", Integer.toString(rank));
                env.put(LOCAL_RANK, Integer.toString(rank));
                env.put("MASTER_ADDR", masterAddr);
                env.put("MASTER_PORT", Integer.toString(masterPort));
                if (rendezvousFile != null) env.put(Rendezvous.FILE_ENV, rendezvousFile.toString());
                else env.remove(Rendezvous.FILE_ENV);
                env.put("OMP_NUM_THREADS", Integer.toString(threads));
                if (!env.containsKey("OMP_WAIT_POLICY") && !env.containsKey("GOMP_SPINCOUNT")) env.put("OMP_WAIT_POLICY", "PASSIVE");
                pb.redirectInput(ProcessBuilder.Redirect.INHERIT).redirectError(ProcessBuilder.Redirect.INHERIT);
                pb.redirectOutput(rank == 0 ? ProcessBuilder.Redirect.INHERIT : ProcessBuilder.Redirect.DISCARD);
                workers.add(pb.start());
            }
            int failed = 0;
            long deadline = Long.MAX_VALUE;
            while (true) {
                boolean running = false;
                for (Process p : workers) {
                    if (p.isAlive()) running = true;
                    else if (p.exitValue() != 0 && failed == 0) {
                        failed = p.exitValue();
                        deadline = System.currentTimeMillis() + timeoutMs + GRACE_MS;
                    }
                }
                if (!running) break;
                if (System.currentTimeMillis() > deadline) {
                    for (Process p : workers) {
                        if (p.isAlive()) {
                            LOG.log(System.Logger.Level.WARNING, "launcher: killing worker pid " + p.pid()
                                    + ", still running after another worker failed");
                            p.destroyForcibly();
                        }
                    }
                    for (Process p : workers) p.waitFor(30, TimeUnit.SECONDS);
                    break;
                }
                Thread.sleep(200);
            }
            return failed;
        } finally {
            for (Process p : workers) if (p.isAlive()) p.destroyForcibly();
            if (rendezvousFile != null) {
                java.nio.file.Files.deleteIfExists(rendezvousFile);
                java.nio.file.Files.deleteIfExists(rendezvousFile.getParent());
            }
            try {
                Runtime.getRuntime().removeShutdownHook(killer);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }
}
