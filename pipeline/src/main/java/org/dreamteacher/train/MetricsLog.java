package org.dreamteacher.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.dreamteacher.torch.AtomicWrite;

/**
 * Training metrics as JSON lines ({@code {"step": 12, "loss": 0.5, ...}}), one object per logged step. On
 * resume, lines past the resumed step are dropped first, so the log of a resumed run reads like the log of
 * an uninterrupted one; the file is only appended to, or replaced whole by a rename, never rewritten in place.
 */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final BufferedWriter out;

    private MetricsLog(Path file, BufferedWriter out) {
        this.file = file;
        this.out = out;
    }

    /** How many steps apart a run of {@code steps} logs: often enough that short runs still draw a curve, at most every 20 steps. */
    public static int interval(int steps) {
        return Math.max(1, Math.min(20, steps / 20));
    }

    /**
     * Opens the log for a run that has completed {@code resumeStep} steps: records are keyed by completed
     * steps, so those with step {@code <=} resumeStep are kept (0 = start afresh).
     */
    public static MetricsLog open(Path file, long resumeStep) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        List<String> keep = new ArrayList<>();
        boolean unchanged = false;
        if (resumeStep > 0 && Files.exists(file)) {
            byte[] bytes = Files.readAllBytes(file);
            String text = new String(bytes, StandardCharsets.UTF_8);
            List<String> lines = text.lines().toList();
            for (String line : lines) {
                try {
                    JsonNode n = JSON.readTree(line);
                    if (n != null && n.path("step").asLong(Long.MAX_VALUE) <= resumeStep) keep.add(line);
                } catch (IOException torn) {
                    // A line cut by a crash: drop it.
                }
            }
            unchanged = keep.size() == lines.size() && (bytes.length == 0 || text.endsWith("\n"));
        }
        // Never rewritten in place: the history is only appended to; when lines must go (past the resumed step, or cut
        // by a crash) the kept ones are written to a new file that replaces the old one by a rename, so a kill at any
        // moment leaves either the old log or the new one, never a truncated one.
        if (!unchanged) {
            AtomicWrite.writePath(file, AtomicWrite.Access.OWNER, tmp -> Files.write(tmp, keep, StandardCharsets.UTF_8));
        }
        return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND));
    }

    /** A log that writes nothing (a data-parallel rank other than 0); {@link #file()} is null. */
    public static MetricsLog discard() {
        return new MetricsLog(null, new BufferedWriter(java.io.Writer.nullWriter()));
    }

    public ObjectNode record(long step) {
        return JSON.createObjectNode().put("step", step);
    }

    public void write(ObjectNode record) throws IOException {
        try {
            out.write(JSON.writeValueAsString(record));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new IOException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    /** Reads every record of a log. */
    public static List<JsonNode> read(Path file) throws IOException {
        List<JsonNode> list = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) list.add(JSON.readTree(line));
        }
        return list;
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
