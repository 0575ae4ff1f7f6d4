package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A resume with other settings, another teacher or other data is refused, every difference named; --steps may grow. */
class ResumeSettingsTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void quiet() {
        Progress.setEnabled(false);
    }

    private static String[] with(List<String> base, String... more) {
        List<String> a = new ArrayList<>(base);
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    private static String refused(CliRun r) {
        assertTrue(r.exitCode() != 0, () -> "the resume was accepted: " + r.out());
        String e = r.err().strip();
        assertEquals(1, e.lines().count(), e);
        assertTrue(e.contains("was started with other settings") && e.contains("only --steps may grow"), e);
        return e;
    }

    @Test
    void trainTeacherNamesEveryChangedSetting() {
        Path out = dir.resolve("teacher");
        List<String> base = List.of("train-teacher", "--batch", "4", "--base-channels", "8", "--channel-mult", "1,2", "--taps", "0,2", "--heads", "2",
                "--samples", "0", "--checkpoint-every", "2", "--out", out.toString());
        run(with(base, "--steps", "2")).expectSuccess();
        String e = refused(run(with(List.of("train-teacher", "--batch", "8", "--base-channels", "16", "--channel-mult", "1,2", "--taps", "0,2",
                "--heads", "2", "--samples", "0", "--checkpoint-every", "2", "--out", out.toString()), "--steps", "4", "--seed", "5", "--lr", "1e-3",
                "--ema", "0.99", "--resume")));
        for (String d : new String[] {"settings.batchSize 4 (now 8)", "settings.seed 0 (now 5)", "settings.lr 2.0E-4 (now 0.001)",
                "settings.emaDecay 0.999 (now 0.99)", "baseChannels 8 (now 16)"})
            assertTrue(e.contains(d), "'" + d + "' not in: " + e);
        run(with(base, "--steps", "4", "--resume")).expectSuccess();
    }

    @Test
    void aRunFolderInUseIsRefusedNamingTheProcess() throws Exception {
        Path out = dir.resolve("locked");
        try (org.dreamteacher.train.RunLock lock = org.dreamteacher.train.RunLock.acquire(out)) {
            CliRun r = run("train-teacher", "--batch", "4", "--base-channels", "8", "--channel-mult", "1,2", "--taps", "0,2", "--heads", "2",
                    "--samples", "0", "--steps", "1", "--out", out.toString());
            r.expectOneLineError(1, "is in use by another run (pid " + ProcessHandle.current().pid());
        }
        assertTrue(!Files.exists(out.resolve("checkpoints")), "the refused run wrote checkpoints");
    }

    @Test
    void distillNamesAnotherTeacherOrOtherData() throws Exception {
        Path teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
        Path out = dir.resolve("distill");
        List<String> base = List.of("distill", "--teacher", teacher.toString(), "--batch", "4", "--width", "8", "--regressor-channels", "16",
                "--checkpoint-every", "2", "--seed", "3", "--out", out.toString());
        run(with(base, "--steps", "2")).expectSuccess();
        // the same teacher under another path
        Path copy = dir.resolve("copy.dtt");
        Files.copy(teacher, copy, StandardCopyOption.REPLACE_EXISTING);
        List<String> other = new ArrayList<>(base);
        other.set(2, copy.toString());
        String e = refused(run(with(other, "--steps", "4", "--resume")));
        assertTrue(e.contains("teacher " + teacher.toAbsolutePath().normalize()) && !e.contains("teacherSha256"), e);
        // another teacher under the same path
        Path saved = dir.resolve("saved.dtt");
        Files.copy(teacher, saved, StandardCopyOption.REPLACE_EXISTING);
        run("train-teacher", "--batch", "4", "--base-channels", "8", "--channel-mult", "1,2", "--taps", "0,2", "--heads", "4", "--samples", "0",
                "--steps", "1", "--seed", "9", "--out", dir.resolve("other-teacher").toString()).expectSuccess();
        Files.copy(dir.resolve("other-teacher/teacher.dtt"), teacher, StandardCopyOption.REPLACE_EXISTING);
        e = refused(run(with(base, "--steps", "4", "--resume")));
        assertTrue(e.contains("teacherSha256"), e);
        Files.copy(saved, teacher, StandardCopyOption.REPLACE_EXISTING);
        // other data
        Path pictures = CliEncodeTest.writePictures(dir.resolve("pictures"), 40);
        e = refused(run(with(base, "--steps", "4", "--images", pictures.toString(), "--size", "28", "--resume")));
        assertTrue(e.contains("data "), e);
        run(with(base, "--steps", "4", "--resume")).expectSuccess();
    }
}
