package org.dreamteacher.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.dreamteacher.features.FeatureManifest;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kill -9 at random moments: {@code distill} and {@code encode} run in a child JVM that is killed with SIGKILL at a
 * random time after its work began (one to three times per trial, each resumed with {@code --resume}); after every
 * kill, every file under a final name must be complete, and the finished run must equal an uninterrupted one
 * byte for byte (weights, checkpoints, training state, metrics; chunk files and manifest), with no temporary file left behind.
 *
 * <p>Trials per command: the system property {@code dt.killTrials} or the environment variable
 * {@code DT_KILL_TRIALS} (default 2, to keep the suite short); {@code dt.killSeed} replays a sequence of kill times.
 * Each trial prints one line; RELIABILITY.md records a long run.
 */
class KillResumeTest {
    @TempDir
    static Path dir;
    static Path teacher, pictures;
    static final int TRIALS = Integer.getInteger("dt.killTrials", Integer.parseInt(System.getenv().getOrDefault("DT_KILL_TRIALS", "2")));
    static final long SEED = Long.getLong("dt.killSeed", System.nanoTime());

    @BeforeAll
    static void setUp() throws Exception {
        Progress.setEnabled(false);
        teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
        pictures = CliEncodeTest.writePictures(dir.resolve("pictures"), 400);
        System.out.printf(Locale.ROOT, "kill -9 trials: %d per command, seed %d (-Ddt.killSeed=%d replays them)%n", TRIALS, SEED, SEED);
    }

    static List<String> distillArgs(Path out) {
        return List.of("distill", "--teacher", teacher.toString(), "--steps", "40", "--batch", "4", "--width", "8", "--regressor-channels", "16",
                "--checkpoint-every", "3", "--seed", "3", "--out", out.toString());
    }

    static List<String> encodeArgs(Path out) {
        return List.of("encode", "--teacher", teacher.toString(), "--images", pictures.toString(), "--size", "28", "--timestep", "20",
                "--chunk-size", "16", "--batch", "4", "--precision", "float16", "--seed", "4", "--out", out.toString());
    }

    @Test
    void distillKilledAtRandomResumesToTheSameWeights() throws Exception {
        Path ref = dir.resolve("distill-ref");
        double work = uninterrupted("distill:", distillArgs(ref));
        Map<String, byte[]> want = distillFiles(ref);
        Random rnd = new Random(SEED);
        for (int trial = 0; trial < TRIALS; trial++) {
            Path run = dir.resolve("distill-" + trial);
            String log = killAndResume("distill:", distillArgs(run), work, rnd, KillResumeTest::checkDistillRun);
            assertSameFiles(want, distillFiles(run), "distill trial " + trial);
            System.out.printf(Locale.ROOT, "distill trial %d: %s -> identical to the uninterrupted run%n", trial, log);
            deleteTree(run);
        }
    }

    @Test
    void encodeKilledAtRandomResumesToTheSameStore() throws Exception {
        Path ref = dir.resolve("encode-ref");
        double work = uninterrupted("encode:", encodeArgs(ref));
        Map<String, byte[]> want = storeFiles(ref);
        assertEquals(26, want.size(), "400 images in chunks of 16, plus the manifest");
        Random rnd = new Random(SEED + 1);
        for (int trial = 0; trial < TRIALS; trial++) {
            Path run = dir.resolve("encode-" + trial);
            String log = killAndResume("encode:", encodeArgs(run), work, rnd, KillResumeTest::checkStore);
            assertSameFiles(want, storeFiles(run), "encode trial " + trial);
            System.out.printf(Locale.ROOT, "encode trial %d: %s -> identical to the uninterrupted run%n", trial, log);
            deleteTree(run);
        }
    }

    /** Runs to the end; returns the seconds from the start of the work to the exit. */
    static double uninterrupted(String startLine, List<String> args) throws Exception {
        try (ChildCli c = ChildCli.start(startLine, args)) {
            assertTrue(c.awaitStart(300), "no start line");
            double started = c.secondsSinceStart();
            int code = c.waitFor(600);
            assertEquals(0, code, () -> "stdout:\n" + c.out() + "\nstderr:\n" + c.err());
            double work = c.secondsSinceStart() - started;
            System.out.printf(Locale.ROOT, "%s uninterrupted: %.1f s of work%n", args.get(0), work);
            return work;
        }
    }

    /** Checks a folder after a kill; returns what it found, for the log. */
    interface Check {
        String check(Path out) throws Exception;
    }

    /**
     * Kills the command one to three times at uniform random moments after its work began (the first in [0, 0.9 x work],
     * the others in [0, 1.2 x work], so that they can also hit the end of a run that is nearly done), checks
     * the folder after each kill, then lets a last {@code --resume} finish. Returns what happened, for the log.
     */
    static String killAndResume(String startLine, List<String> args, double work, Random rnd, Check check) throws Exception {
        Path out = Path.of(args.get(args.size() - 1));
        int kills = 1 + rnd.nextInt(3);
        List<String> events = new ArrayList<>();
        for (int attempt = 0; ; attempt++) {
            List<String> a = new ArrayList<>(args);
            if (attempt > 0) a.add("--resume");
            try (ChildCli c = ChildCli.start(startLine, a)) {
                if (attempt < kills) {
                    assertTrue(c.awaitStart(300), "no start line");
                    // The first kill of a trial lands inside the work; later ones may also fall after the end.
                    double delay = rnd.nextDouble() * (attempt == 0 ? 0.9 : 1.2) * work;
                    Thread.sleep((long) (delay * 1000));
                    if (c.isAlive()) {
                        c.kill();
                        events.add(String.format(Locale.ROOT, "killed at +%.2f s (%s)", delay, check.check(out)));
                        continue;
                    }
                    events.add(String.format(Locale.ROOT, "finished before the kill at +%.2f s", delay));
                }
                int code = c.waitFor(600);
                assertEquals(0, code, () -> "attempt " + a + "\nstdout:\n" + c.out() + "\nstderr:\n" + c.err());
                if (attempt >= kills) events.add("resumed to the end");
                List<String> leftovers = new ArrayList<>();
                try (Stream<Path> s = Files.walk(out)) {
                    s.filter(p -> p.getFileName().toString().startsWith(".")).forEach(p -> leftovers.add(out.relativize(p).toString()));
                }
                assertTrue(leftovers.isEmpty(), () -> "temporary files left after " + events + ": " + leftovers);
                return String.join(", ", events);
            }
        }
    }

    /** Everything a finished distillation leaves that must not depend on interruptions. */
    static Map<String, byte[]> distillFiles(Path run) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        for (String f : List.of("backbone.dtt", "regressor.dtt", "metrics.jsonl")) files.put(f, Files.readAllBytes(run.resolve(f)));
        Path last;
        try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
            last = s.filter(p -> p.getFileName().toString().startsWith("step-")).sorted().reduce((a, b) -> b).orElseThrow();
        }
        for (String f : List.of("backbone.dtt", "regressor.dtt", "state.json"))
            files.put("checkpoints/" + last.getFileName() + "/" + f, Files.readAllBytes(last.resolve(f)));
        return files;
    }

    /** The chunk files and the manifest of a store. */
    static Map<String, byte[]> storeFiles(Path store) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> s = Files.list(store)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (n.equals(FeatureManifest.FILE) || n.matches("chunk-\\d{5}\\.dtt")) files.put(n, Files.readAllBytes(p));
            }
        }
        return files;
    }

    /** After a kill: every checkpoint folder that counts as complete, and every final file, loads in full. */
    static String checkDistillRun(Path run) throws IOException {
        Path cps = run.resolve("checkpoints");
        String last = "no checkpoint";
        if (Files.isDirectory(cps)) {
            try (Stream<Path> s = Files.list(cps).sorted()) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    if (!p.getFileName().toString().matches("step-\\d{8}") || !Files.isRegularFile(p.resolve("state.json"))) continue;
                    loadAndClose(p.resolve("backbone.dtt"));
                    loadAndClose(p.resolve("regressor.dtt"));
                    assertTrue(Files.size(p.resolve("adamw.optim")) > 0, p + ": empty optimiser state");
                    new com.fasterxml.jackson.databind.ObjectMapper().readTree(p.resolve("state.json").toFile());
                    last = "checkpoint " + p.getFileName();
                }
            }
        }
        for (String f : List.of("backbone.dtt", "regressor.dtt")) {
            if (Files.exists(run.resolve(f))) {
                loadAndClose(run.resolve(f));
                last += ", " + f;
            }
        }
        return last;
    }

    /** After a kill: the manifest (if any) reads, and every chunk file under its final name is complete. */
    static String checkStore(Path store) throws IOException {
        String found = "no manifest";
        if (Files.exists(store.resolve(FeatureManifest.FILE))) {
            FeatureManifest m = FeatureManifest.read(store);
            for (FeatureManifest.Chunk c : m.chunks()) assertEquals(c.bytes(), Files.size(store.resolve(c.file())), c.file());
            found = m.chunks().size() + " chunks listed";
        }
        if (!Files.isDirectory(store)) return found;
        try (Stream<Path> s = Files.list(store)) {
            for (Path p : (Iterable<Path>) s::iterator)
                if (p.getFileName().toString().matches("chunk-\\d{5}\\.dtt")) TensorFile.read(p).tensors().values().forEach(t -> t.close());
        }
        return found;
    }

    private static void loadAndClose(Path f) throws IOException {
        try (ConfiguredModule m = Checkpoints.load(f)) {
            assertTrue(m.parameters().size() > 0, f.toString());
        }
    }

    static void assertSameFiles(Map<String, byte[]> want, Map<String, byte[]> got, String what) {
        assertEquals(want.keySet(), got.keySet(), what + ": other files");
        for (String f : want.keySet()) assertArrayEquals(want.get(f), got.get(f), what + ": " + f + " differs");
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
