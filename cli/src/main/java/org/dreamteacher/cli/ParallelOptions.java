package org.dreamteacher.cli;

import org.dreamteacher.kernels.ThreadChoice;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.dreamteacher.kernels.NativeLibrary;
import org.dreamteacher.parallel.DataParallel;
import org.dreamteacher.parallel.DistributedContext;
import org.dreamteacher.parallel.DistributedOptions;
import org.dreamteacher.parallel.GradientBuckets;
import org.dreamteacher.parallel.LocalLauncher;
import org.dreamteacher.torch.Threads;
import org.dreamteacher.train.Progress;
import picocli.CommandLine.Option;

/**
 * Data-parallel options of {@code train-teacher} and {@code distill}: torchrun's rendezvous ({@code --world-size},
 * {@code --rank}, {@code --master-addr}, {@code --master-port}, or the environment variables WORLD_SIZE, RANK,
 * MASTER_ADDR, MASTER_PORT), or {@code --nproc N} to start N local workers.
 */
final class ParallelOptions {
    @Option(names = "--nproc", paramLabel = "N", description = "Start N worker processes on this machine, data-parallel (default: 1).")
    Integer nproc;

    @Option(names = "--world-size", paramLabel = "N", description = "Processes in a data-parallel run (default: $WORLD_SIZE, else 1).")
    Integer worldSize;

    @Option(names = "--rank", paramLabel = "R", description = "This process's rank, 0..world size - 1 (default: $RANK, else 0).")
    Integer rank;

    @Option(names = "--master-addr", paramLabel = "HOST", description = "Address of rank 0, which hosts the rendezvous (default: $MASTER_ADDR, else 127.0.0.1).")
    String masterAddr;

    @Option(names = "--master-port", paramLabel = "PORT", description = "Port of the rendezvous on rank 0 (default: $MASTER_PORT, else 29500; with --nproc a free port).")
    Integer masterPort;

    @Option(names = "--dist-timeout", paramLabel = "SECONDS", defaultValue = "300",
            description = "Longest wait for the other ranks, joining or in a step: a rank that dies or never joins stops the others after this (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--bucket-mb", paramLabel = "MB", defaultValue = "25", description = "Gradients all-reduced together, at most (default: ${DEFAULT-VALUE}).")
    double bucketMb;

    private DistributedContext context;

    /** Whether this process is the launcher of {@code --nproc} local workers rather than a worker. */
    boolean launchesWorkers() {
        return nproc != null && nproc > 1 && System.getenv(LocalLauncher.LOCAL_RANK) == null;
    }

    /** The number of ranks these options describe. */
    int worldSize(CliCommand cmd) {
        check(cmd);
        if (launchesWorkers()) return nproc;
        return options(cmd).worldSize();
    }

    private void check(CliCommand cmd) {
        if (nproc != null && nproc < 1) throw cmd.usage("--nproc must be >= 1, got " + nproc);
        if (nproc != null && nproc > 1 && (worldSize != null || rank != null))
            throw cmd.usage("give either --nproc or --world-size/--rank, not both");
        if (timeoutSeconds < 1) throw cmd.usage("--dist-timeout must be >= 1 second, got " + timeoutSeconds);
        if (!(bucketMb > 0) || Double.isInfinite(bucketMb)) throw cmd.usage("--bucket-mb must be > 0, got " + bucketMb);
    }

    private DistributedOptions options(CliCommand cmd) {
        try {
            return DistributedOptions.resolve(System.getenv(), worldSize, rank, masterAddr, masterPort, Duration.ofSeconds(timeoutSeconds))
                    .withBucketBytes(Math.max(4, (long) (bucketMb * (1 << 20))));
        } catch (IllegalArgumentException e) {
            throw cmd.usage(e.getMessage());
        }
    }

    /** Fails as a usage error unless the global batch splits evenly over the ranks. */
    void requireDivisible(CliCommand cmd, int batch) {
        int w = worldSize(cmd);
        if (batch % w != 0) throw cmd.usage("--batch " + batch + " must be divisible by the " + w + " ranks (each takes an equal share)");
    }

    /** Runs this same command as {@code --nproc} local workers; returns the exit code. */
    int launchWorkers(CliCommand cmd) throws Exception {
        check(cmd);
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(DreamTeacherCli.class.getName());
        List<String> args = cmd.spec.commandLine().getParseResult().originalArgs();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--nproc")) i++;
            else if (!a.startsWith("--nproc=")) command.add(a);
        }
        int threads = cmd.root.threads != null ? cmd.root.threads : LocalLauncher.threadsPerWorker(nproc);
        String addr = masterAddr != null ? masterAddr : DistributedOptions.DEFAULT_ADDR;
        // Without --master-port, rank 0 binds a free port itself (port 0) and publishes it to the others: no race.
        int port = masterPort != null ? masterPort : 0;
        cmd.out().printf(Locale.ROOT, "starting %d workers (%d thread%s each), rendezvous at %s:%s%n", nproc, threads, threads == 1 ? "" : "s",
                addr, port == 0 ? "<a free port chosen by rank 0>" : Integer.toString(port));
        cmd.out().flush();
        return LocalLauncher.run(command, nproc, addr, port, threads, timeoutSeconds * 1000);
    }

    /**
     * Joins the data-parallel run these options describe ({@link DataParallel#SINGLE} for a world of 1). A worker
     * started by {@code --nproc} takes its thread count from OMP_NUM_THREADS unless {@code --threads} is given;
     * ranks other than 0 draw no progress bars.
     */
    DataParallel join(CliCommand cmd) {
        check(cmd);
        DistributedOptions o = options(cmd);
        if (!o.distributed()) return DataParallel.SINGLE;
        String omp = System.getenv("OMP_NUM_THREADS");
        if (cmd.root.threads == null && System.getenv(LocalLauncher.LOCAL_RANK) != null && omp != null && omp.matches("\\d+")) {
            ThreadChoice t = ThreadChoice.choose(Runtime.getRuntime().availableProcessors(), null, omp);
            Threads.applyToTorch(t);
            if (NativeLibrary.loadError() == null) NativeLibrary.setNumThreads(t.threads());
        }
        if (o.rank() != 0) Progress.setEnabled(false);
        context = DistributedContext.join(o);
        return context;
    }

    /** After training: the communication each step cost (rank 0 only, nothing for a single process). */
    void report(CliCommand cmd) {
        if (context == null || !context.isLeader() || context.buckets() == null) return;
        GradientBuckets b = context.buckets();
        cmd.out().printf(Locale.ROOT, "data-parallel: %d ranks; %s all-reduced per step in %d bucket%s%s; %.2f s in gradient all-reduce over %d steps"
                + " (%.2f s waiting for it); %d of %d bucket all-reduces started during backward%n", context.worldSize(), bytes(b.bytesPerStep()),
                b.buckets(), b.buckets() == 1 ? "" : "s",
                context.bufferBytesPerStep() > 0 ? " + " + bytes(context.bufferBytesPerStep()) + " of BatchNorm statistics" : "",
                b.seconds(), b.steps(), b.waitSeconds(), b.overlappedAllReduces(), b.allReduces());
    }

    private static String bytes(long b) {
        return b >= 1 << 20 ? String.format(Locale.ROOT, "%.2f MB", b / 1048576.0) : String.format(Locale.ROOT, "%.1f kB", b / 1024.0);
    }
}
