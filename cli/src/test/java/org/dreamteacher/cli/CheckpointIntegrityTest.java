package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every file of a checkpoint, state.json included, is checked against the SHA-256 that its checksums.sha256 lists,
 * before a resume loads anything: one flipped byte anywhere, a missing or an extra file, is a
 * one-line error naming the file, never a resume from altered state.
 */
class CheckpointIntegrityTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void quiet() {
        Progress.setEnabled(false);
    }

    private static String[] args(Path out, int steps, boolean resume) {
        List<String> a = new ArrayList<>(List.of("train-teacher", "--batch", "4", "--base-channels", "8", "--channel-mult", "1,2", "--taps", "0,2",
                "--heads", "2", "--samples", "2", "--sample-steps", "2", "--steps", Integer.toString(steps), "--checkpoint-every", "2", "--out",
                out.toString()));
        if (resume) a.add("--resume");
        return a.toArray(new String[0]);
    }

    @Test
    void aFlippedByteInAnyCheckpointFileIsRefusedOnResume() throws Exception {
        Path good = dir.resolve("good");
        run(args(good, 2, false)).expectSuccess();
        Path ckpt = good.resolve("checkpoints/step-00000002");
        List<String> names = new ArrayList<>();
        try (Stream<Path> s = Files.list(ckpt)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        }
        names.sort(null);
        assertEquals(List.of("adamw.optim", "checksums.sha256", "diffusion.dtt", "ema.dtt", "state.json"), names);
        int trial = 0;
        for (String name : names) {
            for (double where : new double[] {0.1, 0.5, 0.97}) {
                Path run = dir.resolve("t" + trial++);
                copyTree(good, run);
                Path f = run.resolve("checkpoints/step-00000002").resolve(name);
                byte[] b = Files.readAllBytes(f);
                int at = (int) (where * (b.length - 1));
                b[at] ^= 0x04;
                Files.write(f, b);
                CliRun r = run(args(run, 4, true));
                r.expectOneLineError(1, name);
                assertTrue(r.err().contains("SHA-256") || r.err().contains("delete"), r.err());
            }
        }
        // a missing and an extra file
        Path run = dir.resolve("missing");
        copyTree(good, run);
        Files.delete(run.resolve("checkpoints/step-00000002/ema.dtt"));
        run(args(run, 4, true)).expectOneLineError(1, "ema.dtt: missing");
        run = dir.resolve("extra");
        copyTree(good, run);
        Files.writeString(run.resolve("checkpoints/step-00000002/extra.optim"), "x");
        run(args(run, 4, true)).expectOneLineError(1, "extra.optim: is not listed");
        // the untouched copy resumes
        run = dir.resolve("intact");
        copyTree(good, run);
        run(args(run, 4, true)).expectSuccess();
    }

    static void copyTree(Path from, Path to) throws Exception {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
