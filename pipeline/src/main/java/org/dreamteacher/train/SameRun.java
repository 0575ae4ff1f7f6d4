package org.dreamteacher.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The check that a resume continues the run it names: the settings, models and data that the newest checkpoint's
 * state records against those of the command now, every difference named. Only what does not change the
 * trajectory of the steps already taken may differ (the total of steps, which may grow, and what follows
 * from it, the warm-up; the checkpoint, log and sample intervals; the number of images drawn into sample grids).
 */
public final class SameRun {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Keys of {@code settings} that may differ on a resume. */
    public static final Set<String> MAY_CHANGE = Set.of("steps", "warmupSteps", "checkpointEvery", "logEvery", "sampleEvery", "samples");
    /** Top-level keys of a state that describe the checkpoint rather than the run. */
    private static final Set<String> NOT_COMPARED = Set.of("step", "pairing");

    private SameRun() {}

    /**
     * The usual description of a run, as its checkpoints' {@code state.json} hold it: the completed steps, the
     * settings and model configuration (as Jackson writes the records) and a description of the data.
     */
    public static JsonNode describe(long step, Object settings, Object config, String data) {
        ObjectNode n = JSON.createObjectNode();
        n.put("step", step);
        n.set("settings", JSON.valueToTree(settings));
        n.set("config", JSON.valueToTree(config));
        n.put("data", data);
        return n;
    }

    /** Throws an IllegalArgumentException naming every difference between {@code saved} and {@code now}. */
    public static void check(Path runDir, JsonNode saved, JsonNode now) {
        List<String> diffs = differences(saved, now);
        if (diffs.isEmpty()) return;
        throw new IllegalArgumentException(runDir + " was started with other settings: " + String.join("; ", diffs)
                + ". Resume with the same settings (only --steps may grow), or start a new run in another --out folder");
    }

    /** Every difference, as "PATH: RUN (now NOW)". */
    public static List<String> differences(JsonNode saved, JsonNode now) {
        List<String> out = new ArrayList<>();
        Set<String> keys = new LinkedHashSet<>();
        saved.fieldNames().forEachRemaining(keys::add);
        now.fieldNames().forEachRemaining(keys::add);
        for (String k : keys) {
            if (NOT_COMPARED.contains(k)) continue;
            compare(k.equals("labelGuidance") ? "label guidance" : k, saved.path(k), now.path(k), k.equals("settings"), out);
        }
        return out;
    }

    private static void compare(String path, JsonNode a, JsonNode b, boolean settings, List<String> out) {
        if (a.isObject() && b.isObject()) {
            Set<String> keys = new LinkedHashSet<>();
            for (Iterator<String> it = a.fieldNames(); it.hasNext(); ) keys.add(it.next());
            for (Iterator<String> it = b.fieldNames(); it.hasNext(); ) keys.add(it.next());
            for (String k : keys) {
                if (settings && MAY_CHANGE.contains(k)) continue;
                compare(path + "." + k, a.path(k), b.path(k), false, out);
            }
            return;
        }
        // numbers compare by value (a long 0 and an int 0 are different Jackson nodes)
        if (a.isNumber() && b.isNumber() ? a.decimalValue().compareTo(b.decimalValue()) == 0 : a.equals(b)) return;
        out.add(path + " " + show(a) + " (now " + show(b) + ")");
    }

    private static String show(JsonNode n) {
        if (n.isMissingNode()) return "unset";
        String s = n.isTextual() ? n.asText() : n.toString();
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
}
