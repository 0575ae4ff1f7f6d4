package org.dreamteacher.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OutputArchive;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.torch.AtomicWrite;
import org.dreamteacher.torch.TensorFileException;

/**
 * Training checkpoints of a run folder: {@code checkpoints/step-00000100/} holds one checkpoint file per model,
 * one archive per optimiser and {@code state.json} (step, seeds, anything needed to continue exactly).
 * A checkpoint is written into a temporary folder, every file forced to disk, then the folder is renamed:
 * a crash or a full disk at any point leaves either the complete new checkpoint or none, and the previous ones
 * untouched. The newest complete folder is the one to resume from; the oldest are pruned to {@code keep}.
 */
public final class RunCheckpoints {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PREFIX = "step-";
    private static final String STATE = "state.json";
    /** The file of a checkpoint that lists the SHA-256 of every other file (sha256sum's format). */
    public static final String SUMS = "checksums.sha256";
    private final Path dir;
    private final int keep;

    /** A complete checkpoint on disk. */
    public record Snapshot(long step, Path dir, JsonNode state) {
        public ConfiguredModule model(String name) throws IOException {
            return Checkpoints.load(dir.resolve(name + ".dtt"));
        }

        public <T extends ConfiguredModule> T model(String name, Class<T> type) throws IOException {
            return Checkpoints.load(dir.resolve(name + ".dtt"), type);
        }

        /** Loads weights saved under {@code name} into an existing model of the same config. */
        public Path modelFile(String name) {
            return dir.resolve(name + ".dtt");
        }

        public void loadOptimizer(String name, Optimizer optimizer) throws IOException {
            Path f = dir.resolve(name + ".optim");
            if (!Files.isRegularFile(f)) throw new TensorFileException(f, "missing optimiser state");
            try {
                InputArchive in = new InputArchive();
                in.load_from(f.toString());
                optimizer.load(in);
            } catch (RuntimeException e) {
                throw new TensorFileException(f, "unreadable optimiser state: " + e.getMessage().lines().findFirst().orElse(""));
            }
        }
    }

    public RunCheckpoints(Path runDir, int keep) {
        if (keep < 1) throw new IllegalArgumentException("keep must be >= 1");
        this.dir = runDir.resolve("checkpoints");
        this.keep = keep;
    }

    public Path folder() {
        return dir;
    }

    /** The newest complete checkpoint as "FOLDER (step N)", or null; for messages. */
    public String describeLatest() {
        try {
            return latest().map(s -> s.dir() + " (step " + s.step() + ")").orElse(null);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** What a run stopped by a non-finite step should do next. */
    public String nonFiniteAdvice() {
        return "Lower the learning rate: run again with a smaller --lr (a tenth, say) and without --resume, in another --out folder or"
                + " after deleting " + dir + " (--resume continues with the run's own settings, learning rate included, and the"
                + " weights that led here)";
    }

    /** Writes a checkpoint for {@code step}; returns its folder. Refuses models with non-finite weights or buffers. */
    public Path save(long step, Map<String, ConfiguredModule> models, Map<String, Optimizer> optimizers, JsonNode state)
            throws IOException {
        for (Map.Entry<String, ConfiguredModule> e : models.entrySet()) {
            var tensors = e.getValue().parameters();
            for (long i = 0; i < tensors.size(); i++)
                if (!StepGuard.allFinite(tensors.get(i)))
                    throw new IllegalStateException("step " + step + ": the " + e.getKey() + " weights hold NaN or infinite values; no checkpoint"
                            + " is written" + latest().map(s -> " (the last one, " + s.dir() + ", is kept)").orElse("")
                            + ". Start afresh in another --out folder with a lower --lr");
        }
        Files.createDirectories(dir);
        String name = String.format("%s%08d", PREFIX, step);
        Path target = dir.resolve(name);
        Path tmp = Files.createTempDirectory(dir, "." + name + ".");
        try {
            for (Map.Entry<String, ConfiguredModule> e : models.entrySet())
                Checkpoints.save(tmp.resolve(e.getKey() + ".dtt"), e.getValue());
            for (Map.Entry<String, Optimizer> e : optimizers.entrySet()) {
                Path f = tmp.resolve(e.getKey() + ".optim");
                OutputArchive out = new OutputArchive();
                e.getValue().save(out);
                // Serialised into memory, then written by Java: libtorch's own file writer fails inside a destructor
                // when the disk fills up, which aborts the process instead of raising an error.
                byte[] bytes;
                try (ArchiveBytes sink = new ArchiveBytes()) {
                    out.save_to(sink);
                    bytes = sink.bytes();
                } catch (RuntimeException ex) {
                    throw new IOException(f + ": cannot serialise optimiser state: " + ex.getMessage().lines().findFirst().orElse(""), ex);
                }
                Files.write(f, bytes);
                AtomicWrite.sync(f);
            }
            Path stateFile = tmp.resolve(STATE);
            Files.writeString(stateFile, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state), StandardCharsets.UTF_8);
            AtomicWrite.sync(stateFile);
            // The SHA-256 of every file, state.json included, in sha256sum's format: a resume verifies them all before
            // it loads anything (libtorch ignores the CRCs inside its archives). A separate file, not a field of
            // state.json: libtorch's optimiser archives differ in bytes between identical runs (their state is keyed by
            // tensor addresses), and state.json must stay byte-identical between a resumed and an uninterrupted run.
            StringBuilder sums = new StringBuilder();
            try (Stream<Path> files = Files.list(tmp)) {
                for (Path f : files.sorted().toList()) sums.append(sha256(f)).append("  ").append(f.getFileName()).append('\n');
            }
            Path sumFile = tmp.resolve(SUMS);
            Files.writeString(sumFile, sums, StandardCharsets.US_ASCII);
            AtomicWrite.sync(sumFile);
            AtomicWrite.sync(tmp);
            if (Files.exists(target)) deleteTree(target); // a re-save of the same step after a resume
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target);
            }
            AtomicWrite.sync(dir);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            if (e instanceof IOException io) {
                Optional<Snapshot> kept = latest();
                throw new IOException("cannot write the checkpoint of step " + step + " (" + io.getMessage() + "); "
                        + (kept.isPresent() ? "the last complete one, " + kept.get().dir() + ", is kept" : "no complete checkpoint exists yet"), io);
            }
            throw e;
        }
        prune();
        return target;
    }

    /**
     * Where a run starts: the newest checkpoint when resuming (empty if there is none yet), nothing for a fresh
     * run, which is refused if the folder already holds checkpoints (so a run is never silently overwritten).
     */
    public Optional<Snapshot> start(boolean resume) throws IOException {
        Optional<Snapshot> latest = latest();
        if (!resume && latest.isPresent())
            throw new IllegalArgumentException(dir.getParent() + " already holds checkpoints of a run: pass --resume to continue it"
                    + " or choose another folder");
        if (latest.isPresent()) verify(latest.get().dir());
        deleteInterruptedWrites(dir.getParent());
        return resume ? latest : Optional.empty();
    }

    /**
     * As {@link #start(boolean)}, and a resumed run must be the same run: {@code now} describes the run as it is
     * asked for (settings, models, data, as its checkpoints' {@code state.json} do), and every difference from the
     * newest checkpoint's state that {@link SameRun} does not allow is an {@link IllegalArgumentException}.
     */
    public Optional<Snapshot> start(boolean resume, Supplier<JsonNode> now) throws IOException {
        Optional<Snapshot> snapshot = start(resume);
        if (snapshot.isPresent()) SameRun.check(dir.getParent(), snapshot.get().state(), now.get());
        return snapshot;
    }

    /**
     * Checks a checkpoint folder before anything of it is loaded: every file against the SHA-256 that
     * checksums.sha256 lists for it (state.json included), no file missing and none unlisted.
     */
    public static void verify(Path folder) throws IOException {
        Path sumFile = folder.resolve(SUMS);
        String advice = "; the checkpoint is corrupt or was altered: delete " + folder + " to resume from the one before it (if any)";
        if (!Files.isRegularFile(sumFile))
            throw new TensorFileException(sumFile, "missing: the checkpoint has no checksums (written by an older version, or altered)" + advice);
        if (Files.size(sumFile) > 1 << 20) throw new TensorFileException(sumFile, "larger than 1 MiB" + advice);
        java.util.Set<String> listed = new java.util.HashSet<>();
        for (String line : new String(Files.readAllBytes(sumFile), StandardCharsets.ISO_8859_1).split("\n", -1)) {
            if (line.isEmpty()) continue;
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9a-f]{64})  ([A-Za-z0-9_.-]+)").matcher(line);
            if (!m.matches() || m.group(2).startsWith(".") || m.group(2).equals(SUMS) || !listed.add(m.group(2)))
                throw new TensorFileException(sumFile, "malformed line '" + abbreviate(line) + "'" + advice);
            Path f = folder.resolve(m.group(2));
            if (!Files.isRegularFile(f)) throw new TensorFileException(f, "missing, although " + SUMS + " lists it" + advice);
            String sum = sha256(f);
            if (!sum.equals(m.group(1)))
                throw new TensorFileException(f, "its SHA-256 is " + sum + ", " + SUMS + " records " + m.group(1) + advice);
        }
        if (!listed.contains(STATE)) throw new TensorFileException(sumFile, "does not list " + STATE + advice);
        try (Stream<Path> s = Files.list(folder)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (!listed.contains(n) && !n.equals(SUMS)) throw new TensorFileException(p, "is not listed in " + SUMS + advice);
            }
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }

    static String sha256(Path f) throws IOException {
        java.security.MessageDigest md = sha256();
        try (var in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        }
        return java.util.HexFormat.of().formatHex(md.digest());
    }

    static String sha256(byte[] bytes) {
        return java.util.HexFormat.of().formatHex(sha256().digest(bytes));
    }

    private static java.security.MessageDigest sha256() {
        try {
            return java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /** The newest complete checkpoint, if any. Temporary folders of interrupted saves are ignored (and removed). */
    public Optional<Snapshot> latest() throws IOException {
        if (!Files.isDirectory(dir)) return Optional.empty();
        List<Path> done = complete();
        if (done.isEmpty()) return Optional.empty();
        Path last = done.get(done.size() - 1);
        Path stateFile = last.resolve("state.json");
        JsonNode state;
        try {
            state = JSON.readTree(Files.readString(stateFile, StandardCharsets.UTF_8));
        } catch (IOException e) {
            verify(last); // a damaged checkpoint: say so, naming the file that changed
            throw new TensorFileException(stateFile, "unreadable training state: " + e.getMessage());
        }
        long step = Long.parseLong(last.getFileName().toString().substring(PREFIX.length()));
        return Optional.of(new Snapshot(step, last, state));
    }

    private List<Path> complete() throws IOException {
        List<Path> done = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (n.startsWith("." + PREFIX)) deleteTree(p); // left by a crash during a save
                else if (n.matches(PREFIX + "\\d{8}") && Files.isRegularFile(p.resolve("state.json"))) done.add(p);
            }
        }
        done.sort(Comparator.comparing(p -> p.getFileName().toString()));
        return done;
    }

    /**
     * Removes the temporary files of atomic writes into the run folder ({@code .backbone.dtt.123.tmp},
     * {@code .loss-curve.png.123.tmp}: {@code TensorFile}, pictures) that a crash interrupted before their rename;
     * the files under final names are complete by construction.
     */
    private static void deleteInterruptedWrites(Path runDir) throws IOException {
        if (!Files.isDirectory(runDir)) return;
        try (Stream<Path> s = Files.list(runDir)) {
            for (Path p : (Iterable<Path>) s::iterator)
                if (p.getFileName().toString().matches("\\..+\\.\\d+\\.tmp") && Files.isRegularFile(p)) Files.deleteIfExists(p);
        }
    }

    private void prune() throws IOException {
        List<Path> done = complete();
        for (int i = 0; i < done.size() - keep; i++) deleteTree(done.get(i));
    }

    /**
     * Deletes a folder and everything in it. Entries that vanish meanwhile are skipped, not errors: the ranks of a
     * data-parallel run open the same run folder and may clear the same interrupted save at the same time.
     */
    static void deleteTree(Path root) throws IOException {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) return FileVisitResult.CONTINUE;
                throw e;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path folder, IOException e) throws IOException {
                if (e != null && !(e instanceof NoSuchFileException)) throw e;
                Files.deleteIfExists(folder);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** Collects what libtorch's archive writer emits (a callback from native code), for Java to write. */
    private static final class ArchiveBytes extends org.bytedeco.pytorch.ArchiveWriter {
        private final java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();

        @Override
        public long call(org.bytedeco.javacpp.Pointer data, long size) {
            byte[] chunk = new byte[Math.toIntExact(size)];
            new org.bytedeco.javacpp.BytePointer(data).capacity(size).get(chunk);
            buffer.write(chunk, 0, chunk.length);
            return size;
        }

        byte[] bytes() {
            return buffer.toByteArray();
        }
    }
}
