package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.train.Progress;
import org.dreamteacher.train.StepGuard;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train-teacher --lr 1e30}: the run stops before a step from a non-finite gradient, every checkpoint it
 * wrote holds finite values only, and the message's advice (a lower --lr, without --resume) works as written.
 */
class NonFiniteRunTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void quiet() {
        Progress.setEnabled(false);
    }

    private List<String> args(Path out, String lr) {
        return List.of("train-teacher", "--batch", "4", "--base-channels", "8", "--channel-mult", "1,2", "--taps", "0,2", "--heads", "2",
                "--samples", "2", "--sample-steps", "2", "--steps", "6", "--checkpoint-every", "1", "--lr", lr, "--out", out.toString());
    }

    @Test
    void aDivergingRunStopsBeforeTheStepAndItsAdviceWorks() throws Exception {
        Path out = dir.resolve("diverged");
        CliRun r = run(args(out, "1e30").toArray(new String[0]));
        assertTrue(r.exitCode() != 0, "a run at --lr 1e30 finished: " + r.out());
        String e = r.err().strip();
        assertTrue(e.contains("the step was not taken") && e.contains("without --resume") && e.contains("smaller --lr"), e);
        // every file of every checkpoint written holds finite values only
        List<Path> files = new ArrayList<>();
        try (Stream<Path> s = Files.walk(out.resolve("checkpoints"))) {
            s.filter(p -> p.toString().endsWith(".dtt")).forEach(files::add);
        }
        double largest = 0;
        for (Path f : files)
            for (var t : TensorFile.read(f).tensors().entrySet()) {
                assertTrue(StepGuard.allFinite(t.getValue()), f + " " + t.getKey());
                if (t.getValue().is_floating_point() && t.getValue().numel() > 0)
                    largest = Math.max(largest, t.getValue().abs().max().item_double());
            }
        System.out.println("--lr 1e30: " + files.size() + " checkpoint files, largest |value| " + largest + "; error: " + e);
        // the advice: the same command with a lower --lr, without --resume, in another folder
        run(args(dir.resolve("again"), "1e-3").toArray(new String[0])).expectSuccess();
        assertFalse(Files.exists(out.resolve("teacher.dtt")));
    }
}
