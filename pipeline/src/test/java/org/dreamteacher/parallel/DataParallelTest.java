package org.dreamteacher.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.RunCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training between child JVMs on loopback ({@link ParallelWorker}, one thread each): the ranks end
 * with the same weights, equal to one process trained on the same global batch; a killed rank or one that never
 * joins makes the other fail in time; the last checkpoint stays valid and a restart resumes from it.
 */
class DataParallelTest {
    static final int STEPS = 4;

    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        TorchRuntime.init();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    record Worker(Process process, Path log) {
        int await(long seconds) throws Exception {
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("worker still running after " + seconds + " s: " + output());
            }
            return process.exitValue();
        }

        String output() throws IOException {
            return Files.readString(log, StandardCharsets.UTF_8);
        }
    }

    Worker start(String name, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m"));
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(ParallelWorker.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Path log = dir.resolve(name + ".log");
        pb.redirectOutput(log.toFile());
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        pb.environment().put("OMP_NUM_THREADS", "1");
        return new Worker(pb.start(), log);
    }

    static void assertExit0(Worker w) throws Exception {
        int rc = w.await(180);
        assertEquals(0, rc, () -> {
            try {
                return w.output();
            } catch (IOException e) {
                return e.toString();
            }
        });
    }

    /**
     * The worker's report says that its gradients went out in several buckets, and that in the steps after the
     * buckets were laid out in the order of the gradients' arrival (steps 3 on) at least {@code perStep} bucket
     * all-reduces per step started during backward.
     */
    static void assertOverlapped(Worker w, int perStep) throws IOException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) buckets, .* (\\d+) of (\\d+) all-reduces started during backward")
                .matcher(w.output());
        assertTrue(m.find(), w.output());
        int buckets = Integer.parseInt(m.group(1)), overlapped = Integer.parseInt(m.group(2));
        assertTrue(buckets > 1, "expected several buckets: " + m.group());
        assertTrue(overlapped >= (STEPS - 2) * Math.min(perStep, buckets), m.group());
    }

    /** Largest absolute difference between same-named tensors of two checkpoint files (same names required). */
    static double maxDiff(Path a, Path b) throws IOException {
        Map<String, Tensor> x = TensorFile.read(a).tensors(), y = TensorFile.read(b).tensors();
        assertEquals(x.keySet(), y.keySet());
        double max = 0;
        for (String k : x.keySet()) {
            Tensor d = x.get(k).to(org.bytedeco.pytorch.global.torch.ScalarType.Double).sub(y.get(k).to(org.bytedeco.pytorch.global.torch.ScalarType.Double)).abs();
            max = Math.max(max, d.numel() == 0 ? 0 : d.max().item_double());
        }
        return max;
    }

    static Path last(Path run, String model) {
        return run.resolve(String.format("checkpoints/step-%08d/%s.dtt", STEPS, model));
    }

    /**
     * Runs {@code mode} on 2 ranks for {@link #STEPS} steps, each rank writing into its own folder r0, r1; waits
     * for both to succeed, checks that they end with identical {@code models}, and returns rank 0.
     */
    Worker twoRanksEndIdentical(String mode, String... models) throws Exception {
        String port = Integer.toString(freePort());
        Worker r0 = start(mode + "0", mode, "2", "0", port, "" + STEPS, dir.resolve("r0").toString(), "60", "own-dir");
        Worker r1 = start(mode + "1", mode, "2", "1", port, "" + STEPS, dir.resolve("r1").toString(), "60", "own-dir");
        assertExit0(r0);
        assertExit0(r1);
        for (String m : models)
            assertEquals(0.0, maxDiff(last(dir.resolve("r0"), m), last(dir.resolve("r1"), m)), m + ": the ranks differ");
        return r0;
    }

    @Test
    void teacherTrainingOnTwoRanksEqualsOneProcessOnTheGlobalBatch() throws Exception {
        String port = Integer.toString(freePort());
        Worker r0 = start("t0", "teacher", "2", "0", port, "" + STEPS, dir.resolve("r0").toString(), "60", "own-dir");
        Worker r1 = start("t1", "teacher", "2", "1", port, "" + STEPS, dir.resolve("r1").toString(), "60", "own-dir");
        Worker one = start("t-one", "teacher", "1", "0", "0", "" + STEPS, dir.resolve("one").toString(), "60");
        assertExit0(r0);
        assertExit0(r1);
        assertExit0(one);
        for (String m : new String[] {"diffusion", "ema"}) {
            assertEquals(0.0, maxDiff(last(dir.resolve("r0"), m), last(dir.resolve("r1"), m)), m + ": the ranks differ");
            double vsOne = maxDiff(last(dir.resolve("r0"), m), last(dir.resolve("one"), m));
            assertTrue(vsOne <= 1e-5, m + ": 2 ranks vs 1 process differ by " + vsOne);
        }
        // The comparison means something only if training moved the weights by much more than 1e-5: the initial
        // weights are those TeacherTrainer builds from its seed.
        Path initial = dir.resolve("initial.dtt");
        org.bytedeco.pytorch.global.torch.manual_seed(3);
        try (var model = ParallelWorker.tinyTeacher().build()) {
            org.dreamteacher.nn.Checkpoints.save(initial, model);
        }
        double moved = maxDiff(initial, last(dir.resolve("one"), "diffusion"));
        System.out.printf("teacher: 2 ranks vs 1 process %.3g (diffusion), training moved the weights by %.3g%n",
                maxDiff(last(dir.resolve("r0"), "diffusion"), last(dir.resolve("one"), "diffusion")), moved);
        assertTrue(moved > 1e-3, "training moved the weights by only " + moved);
        // every parameter of the U-Net gets a gradient: all of its buckets go out during backward
        assertOverlapped(r0, Integer.MAX_VALUE);
        assertOverlapped(r1, Integer.MAX_VALUE);
    }

    /**
     * The distillation student has BatchNorm (ResNet, and the regressor's PPM): each rank normalises its half
     * batch with its own statistics, as PyTorch's DDP without SyncBatchNorm, so a 2-rank run is not the
     * 1-process run on the global batch; the ranks must still end identical, BatchNorm buffers included.
     */
    @Test
    void distillationRanksEndIdentical() throws Exception {
        Worker r0 = twoRanksEndIdentical("distill", "backbone", "regressor");
        // the tiny student's deepest stage is unused (2 teacher taps): only the buckets of the used parameters can
        assertOverlapped(r0, 1);
    }

    /**
     * Label-guided distillation: the interpreter trains data-parallel first (rank 0 writes it), then the student
     * with the label term; both ranks end with the same interpreter, backbone (task head included) and regressor.
     */
    @Test
    void labelGuidedDistillationRanksEndIdentical() throws Exception {
        Worker r0 = twoRanksEndIdentical("guided", "backbone", "regressor");
        assertEquals(0.0, maxDiff(dir.resolve("r0/interpreter.dtt"), dir.resolve("r1/interpreter.dtt")), "the ranks' interpreters differ");
        var interpreterLog = org.dreamteacher.train.MetricsLog.read(dir.resolve("r0/interpreter-metrics.jsonl"));
        assertEquals(3, interpreterLog.get(interpreterLog.size() - 1).get("step").asInt(), "rank 0 logs the interpreter's 3 steps");
        assertTrue(r0.output().contains("rank 0: "), r0.output());
    }

    @Test
    void aKilledRankStopsTheOtherInTimeAndARestartResumes() throws Exception {
        String port = Integer.toString(freePort());
        Path run = dir.resolve("run");
        int timeout = 15;
        Worker r0 = start("k0", "teacher", "2", "0", port, "6", run.toString(), "" + timeout);
        Worker r1 = start("k1", "teacher", "2", "1", port, "6", run.toString(), "" + timeout, "die-at", "3");
        assertEquals(137, r1.await(120), "rank 1 should have halted at step 3");
        long died = System.nanoTime();
        int rc = r0.await(timeout + 30);
        double seconds = (System.nanoTime() - died) / 1e9;
        assertEquals(1, rc, r0.output());
        assertTrue(seconds <= timeout + 5, "rank 0 stopped " + seconds + " s after rank 1 died");
        assertTrue(r0.output().contains("rank 0: ") && r0.output().contains("another rank died or stopped answering"), r0.output());
        Optional<RunCheckpoints.Snapshot> latest = new RunCheckpoints(run, 2).latest();
        assertTrue(latest.isPresent());
        assertEquals(2, latest.get().step(), "rank 1 died in step 3: the checkpoint of step 2 is the last one");
        latest.get().model("diffusion").close();

        String port2 = Integer.toString(freePort());
        Worker s0 = start("s0", "teacher", "2", "0", port2, "6", run.toString(), "" + timeout, "resume");
        Worker s1 = start("s1", "teacher", "2", "1", port2, "6", run.toString(), "" + timeout, "resume");
        assertExit0(s0);
        assertExit0(s1);
        assertTrue(Files.isRegularFile(run.resolve("teacher.dtt")));
        assertEquals(6, new RunCheckpoints(run, 2).latest().orElseThrow().step());
    }

    @Test
    void aRankThatNeverJoinsIsReportedWithinTheTimeout() throws Exception {
        String port = Integer.toString(freePort());
        long t0 = System.nanoTime();
        Worker r0 = start("n0", "teacher", "2", "0", port, "2", dir.resolve("alone").toString(), "4");
        int rc = r0.await(60);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(1, rc, r0.output());
        assertTrue(r0.output().contains("did not all meet"), r0.output());
        assertTrue(seconds < 4 + 20, "took " + seconds + " s");
    }
}
