package org.dreamteacher.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kill -9 at random moments, as {@link KillResumeTest}, for {@code train-teacher}, {@code train-gan}, {@code distill --label-guided}
 * and a 2-rank {@code distill --nproc 2} (the launcher and both workers killed): each resumed run ends with the
 * same bytes as an uninterrupted one. Trials: {@code dt.killTrials} / {@code DT_KILL_TRIALS} (default 2),
 * {@code dt.killSeed} replays.
 */
class KillResumeMoreTest {
    @TempDir
    static Path dir;
    static Path teacher;

    @BeforeAll
    static void setUp() throws Exception {
        Progress.setEnabled(false);
        teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
        System.out.printf(Locale.ROOT, "kill -9 trials: %d per command, seed %d (-Ddt.killSeed=%d replays them)%n", KillResumeTest.TRIALS,
                KillResumeTest.SEED, KillResumeTest.SEED);
    }

    static List<String> teacherArgs(Path out) {
        return List.of("train-teacher", "--batch", "4", "--base-channels", "8", "--channel-mult", "1,2", "--taps", "0,2", "--heads", "2",
                "--samples", "0", "--steps", "24", "--checkpoint-every", "3", "--seed", "5", "--out", out.toString());
    }

    static List<String> labelGuidedArgs(Path out) {
        return List.of("distill", "--teacher", teacher.toString(), "--steps", "36", "--batch", "4", "--width", "8", "--regressor-channels", "16",
                "--interpreter-steps", "2", "--label-guided", "--labels", "0.5", "--checkpoint-every", "3", "--seed", "3", "--out", out.toString());
    }

    static List<String> twoRankArgs(Path out) {
        return List.of("distill", "--teacher", teacher.toString(), "--steps", "24", "--batch", "4", "--width", "8", "--regressor-channels", "16",
                "--checkpoint-every", "3", "--seed", "3", "--nproc", "2", "--out", out.toString());
    }

    static List<String> ganArgs(Path out) {
        return List.of("train-gan", "--batch", "4", "--width", "8", "--samples", "0", "--r1-every", "4", "--steps", "24", "--checkpoint-every", "3",
                "--seed", "5", "--out", out.toString());
    }

    @Test
    void trainGanKilledAtRandomResumesToTheSameWeights() throws Exception {
        trials("train-gan:", KillResumeMoreTest::ganArgs, List.of("generator.dtt", "metrics.jsonl"),
                List.of("generator.dtt", "discriminator.dtt", "ema.dtt", "state.json"), 4);
    }

    @Test
    void trainTeacherKilledAtRandomResumesToTheSameWeights() throws Exception {
        trials("train-teacher:", KillResumeMoreTest::teacherArgs, List.of("teacher.dtt", "metrics.jsonl"), List.of("diffusion.dtt", "ema.dtt", "state.json"),
                1);
    }

    @Test
    void labelGuidedDistillKilledAtRandomResumesToTheSameWeights() throws Exception {
        trials("distill:", KillResumeMoreTest::labelGuidedArgs, List.of("backbone.dtt", "regressor.dtt", "interpreter.dtt", "metrics.jsonl"),
                List.of("backbone.dtt", "regressor.dtt", "state.json"), 2);
    }

    @Test
    void twoRankDistillKilledAtRandomResumesToTheSameWeights() throws Exception {
        trials("distill:", KillResumeMoreTest::twoRankArgs, List.of("backbone.dtt", "regressor.dtt", "metrics.jsonl"),
                List.of("backbone.dtt", "regressor.dtt", "state.json"), 3);
    }

    interface Args {
        List<String> of(Path out);
    }

    private static void trials(String startLine, Args args, List<String> finals, List<String> checkpointFiles, int salt) throws Exception {
        Path ref = dir.resolve(args.of(dir).get(0) + "-ref-" + salt);
        double work = KillResumeTest.uninterrupted(startLine, args.of(ref));
        Map<String, byte[]> want = files(ref, finals, checkpointFiles);
        Random rnd = new Random(KillResumeTest.SEED + 10 * salt);
        for (int trial = 0; trial < KillResumeTest.TRIALS; trial++) {
            Path run = dir.resolve("run-" + salt + "-" + trial);
            String log = KillResumeTest.killAndResume(startLine, args.of(run), work, rnd, out -> check(out, checkpointFiles));
            KillResumeTest.assertSameFiles(want, files(run, finals, checkpointFiles), args.of(run).get(0) + " trial " + trial);
            System.out.printf(Locale.ROOT, "%s (%d) trial %d: %s -> identical to the uninterrupted run%n", args.of(run).get(0), salt, trial, log);
            KillResumeTest.deleteTree(run);
        }
    }

    /** The final files and the last checkpoint's files. */
    static Map<String, byte[]> files(Path run, List<String> finals, List<String> checkpointFiles) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        for (String f : finals) files.put(f, Files.readAllBytes(run.resolve(f)));
        Path last;
        try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
            last = s.filter(p -> p.getFileName().toString().startsWith("step-")).sorted().reduce((a, b) -> b).orElseThrow();
        }
        for (String f : checkpointFiles) files.put("checkpoints/" + last.getFileName() + "/" + f, Files.readAllBytes(last.resolve(f)));
        return files;
    }

    /** After a kill: every complete checkpoint verifies and its models load. */
    static String check(Path run, List<String> checkpointFiles) throws IOException {
        Path cps = run.resolve("checkpoints");
        String last = "no checkpoint";
        if (!Files.isDirectory(cps)) return last;
        List<Path> done = new ArrayList<>();
        try (Stream<Path> s = Files.list(cps).sorted()) {
            s.filter(p -> p.getFileName().toString().matches("step-\\d{8}") && Files.isRegularFile(p.resolve("state.json"))).forEach(done::add);
        }
        for (Path p : done) {
            org.dreamteacher.train.RunCheckpoints.verify(p);
            for (String f : checkpointFiles)
                if (f.endsWith(".dtt"))
                    try (ConfiguredModule m = Checkpoints.load(p.resolve(f))) {
                        if (m.parameters().size() == 0) throw new AssertionError(p + "/" + f + " has no parameters");
                    }
            last = "checkpoint " + p.getFileName();
        }
        return last;
    }
}
