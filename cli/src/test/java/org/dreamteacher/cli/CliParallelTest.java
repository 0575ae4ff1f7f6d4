package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.dreamteacher.train.MetricsLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data-parallel options: usage errors, and a whole {@code --nproc 2} run through the launcher. */
class CliParallelTest {
    @TempDir
    Path dir;

    static final String[] TINY = {"--steps", "4", "--batch", "8", "--base-channels", "8", "--channel-mult", "1,2", "--attention", "none",
        "--taps", "0,2", "--samples", "0", "--checkpoint-every", "2"};

    @Test
    void usageErrors() {
        run("distill", "--nproc", "2", "--batch", "7", "--out", dir.resolve("a").toString()).expectOneLineError(2, "divisible by the 2 ranks");
        run("train-teacher", "--nproc", "2", "--rank", "1", "--out", dir.resolve("b").toString()).expectOneLineError(2, "either --nproc or");
        run("train-teacher", "--world-size", "2", "--rank", "2", "--out", dir.resolve("c").toString()).expectOneLineError(2, "rank must be in 0..1");
        run("train-teacher", "--nproc", "0", "--out", dir.resolve("d").toString()).expectOneLineError(2, "--nproc must be >= 1");
    }

    @Test
    void twoLocalWorkersTrainAndOnlyRankZeroWrites() throws Exception {
        Path out = dir.resolve("run");
        String[] args = new String[TINY.length + 5];
        args[0] = "train-teacher";
        System.arraycopy(TINY, 0, args, 1, TINY.length);
        args[TINY.length + 1] = "--nproc";
        args[TINY.length + 2] = "2";
        args[TINY.length + 3] = "--out";
        args[TINY.length + 4] = out.toString();
        CliRun r = run(args).expectSuccess();
        assertTrue(r.out().contains("starting 2 workers (1 thread each)"), r.out());
        assertTrue(Files.isRegularFile(out.resolve("teacher.dtt")));
        assertTrue(Files.isDirectory(out.resolve("checkpoints/step-00000004")));
        assertEquals(4, MetricsLog.read(out.resolve("metrics.jsonl")).size(), "one log line per step: only rank 0 writes");
    }
}
