package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;
import org.dreamteacher.features.FeatureManifest;
import org.dreamteacher.train.Progress;
import org.dreamteacher.train.RunCheckpoints;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk: {@code distill} and {@code encode} write into a small tmpfs that fills up part-way. The run must end
 * with a one-line error (exit code 1), leave its last good checkpoint (or its finished chunks) loadable and nothing
 * incomplete under a final name, and, moved to a disk with room, resume to the same result as a run that never
 * failed. Mounting needs root (or CAP_SYS_ADMIN); where {@code mount} is refused the tests are skipped with the reason.
 */
class FullDiskTest {
    @TempDir
    static Path dir;
    static Path teacher, pictures;
    Path mounted;

    @BeforeAll
    static void setUp() throws Exception {
        Progress.setEnabled(false);
        teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
        pictures = CliEncodeTest.writePictures(dir.resolve("pictures"), 96);
    }

    @AfterEach
    void unmount() throws Exception {
        if (mounted != null) {
            int rc = new ProcessBuilder("umount", mounted.toString()).inheritIO().start().waitFor();
            assertEquals(0, rc, "umount " + mounted);
            mounted = null;
        }
    }

    /** Mounts a tmpfs of {@code bytes} (rounded up to 4 KiB pages) at a new folder, or skips the test saying why not. */
    Path smallDisk(String name, long bytes) throws Exception {
        Path m = dir.resolve(name);
        Files.createDirectories(m);
        long kib = (bytes + 4095) / 4096 * 4;
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + kib + "k", "tmpfs", m.toString()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        int rc = p.waitFor();
        if (rc != 0) {
            String reason = "cannot mount a tmpfs here (mount exit code " + rc + ": " + output + "); the full-disk test needs root";
            System.out.println("FullDiskTest skipped: " + reason);
            Assumptions.abort(reason);
        }
        mounted = m;
        System.out.printf(Locale.ROOT, "tmpfs of %d KiB at %s%n", kib, m);
        return m;
    }

    static List<String> distillArgs(Path out, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("distill", "--teacher", teacher.toString(), "--steps", "12", "--batch", "4", "--width",
                "8", "--regressor-channels", "16", "--checkpoint-every", "2", "--seed", "5", "--out", out.toString()));
        a.addAll(List.of(more));
        return a;
    }

    static List<String> encodeArgs(Path out, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("encode", "--teacher", teacher.toString(), "--images", pictures.toString(), "--size",
                "28", "--timestep", "20", "--chunk-size", "8", "--batch", "4", "--precision", "float32", "--out", out.toString()));
        a.addAll(List.of(more));
        return a;
    }

    @Test
    void distillOnAFullDiskFailsClearlyAndKeepsTheLastCheckpoint() throws Exception {
        Path ref = dir.resolve("distill-ref");
        run(distillArgs(ref).toArray(String[]::new)).expectSuccess();
        long checkpoint = treeSize(ref.resolve("checkpoints").resolve("step-00000012"));
        // Room for the log and two and a half checkpoints: the third save (step 6) runs out of space.
        Path disk = smallDisk("distill-disk", 5 * checkpoint / 2 + 16384);
        Path out = disk.resolve("run");
        CliRun failed = run(distillArgs(out).toArray(String[]::new));
        System.out.println("distill on a full disk: " + failed.err().strip());
        failed.expectOneLineError(1, "No space left on device");
        assertTrue(failed.err().contains("cannot write"), failed.err());

        RunCheckpoints checkpoints = new RunCheckpoints(out, 2);
        Optional<RunCheckpoints.Snapshot> last = checkpoints.latest();
        assertTrue(last.isPresent(), "no checkpoint survived");
        assertTrue(last.get().step() >= 2 && last.get().step() < 12, "last good checkpoint at step " + last.get().step());
        KillResumeTest.checkDistillRun(out);
        try (Stream<Path> s = Files.walk(out)) {
            List<Path> temp = s.filter(p -> p.getFileName().toString().startsWith(".")).toList();
            assertTrue(temp.isEmpty(), "temporary files left after the failure: " + temp);
        }
        assertFalse(Files.exists(out.resolve("backbone.dtt")));

        // With room again the run resumes from that checkpoint to the uninterrupted result.
        Path moved = dir.resolve("distill-moved");
        copyTree(out, moved);
        CliRun resumed = run(distillArgs(moved, "--resume").toArray(String[]::new)).expectSuccess();
        assertTrue(resumed.out().contains("distilled " + (12 - last.get().step()) + " steps"), resumed.out());
        KillResumeTest.assertSameFiles(KillResumeTest.distillFiles(ref), KillResumeTest.distillFiles(moved), "distill after a full disk");
    }

    @Test
    void encodeOnAFullDiskFailsClearlyAndKeepsFinishedChunks() throws Exception {
        Path ref = dir.resolve("encode-ref");
        run(encodeArgs(ref).toArray(String[]::new)).expectSuccess();
        long chunk = Files.size(ref.resolve("chunk-00000.dtt"));
        Path disk = smallDisk("encode-disk", 5 * chunk / 2 + 16384); // 12 chunks needed, about 2 fit
        Path out = disk.resolve("store");
        CliRun failed = run(encodeArgs(out).toArray(String[]::new));
        System.out.println("encode on a full disk: " + failed.err().strip());
        failed.expectOneLineError(1, "No space left on device");
        assertTrue(failed.err().contains("cannot write"), failed.err());

        FeatureManifest m = FeatureManifest.read(out);
        assertFalse(m.isComplete());
        assertTrue(m.chunks().size() >= 1, "no chunk survived");
        KillResumeTest.checkStore(out);
        try (Stream<Path> s = Files.list(out)) {
            List<Path> temp = s.filter(p -> p.getFileName().toString().startsWith(".")).toList();
            assertTrue(temp.isEmpty(), "temporary files left after the failure: " + temp);
        }

        Path moved = dir.resolve("encode-moved");
        copyTree(out, moved);
        CliRun resumed = run(encodeArgs(moved, "--resume").toArray(String[]::new)).expectSuccess();
        assertTrue(resumed.out().contains("(" + m.chunks().size() + " kept from before)"), resumed.out());
        KillResumeTest.assertSameFiles(KillResumeTest.storeFiles(ref), KillResumeTest.storeFiles(moved), "encode after a full disk");
    }

    static long treeSize(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            long total = 0;
            for (Path p : (Iterable<Path>) s::iterator) if (Files.isRegularFile(p)) total += Files.size(p);
            return total;
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
    }
}
