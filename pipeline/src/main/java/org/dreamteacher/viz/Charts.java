package org.dreamteacher.viz;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dreamteacher.viz.Plots;
import org.dreamteacher.train.MetricsLog;

/** Charts of a run folder's logs. */
public final class Charts {
    private Charts() {}

    /**
     * A loss curve of the {@code keys} logged in {@code metrics.jsonl} (those absent from the log are left out).
     * Returns false, writing nothing, when the log is missing or has no such values.
     */
    public static boolean lossCurve(Path metrics, Path png, String title, List<String> keys) throws IOException {
        Map<String, String> labels = new LinkedHashMap<>();
        for (String key : keys) labels.put(key, key.replace('_', ' '));
        return lossCurve(metrics, png, title, labels);
    }

    /** As {@link #lossCurve(Path, Path, String, List)}, with a legend label for each key, in the map's order. */
    public static boolean lossCurve(Path metrics, Path png, String title, Map<String, String> labels) throws IOException {
        if (!Files.isRegularFile(metrics)) return false;
        List<JsonNode> records = MetricsLog.read(metrics);
        Map<String, double[][]> series = new LinkedHashMap<>();
        for (Map.Entry<String, String> key : labels.entrySet()) {
            List<double[]> points = new ArrayList<>();
            for (JsonNode r : records)
                if (r.has(key.getKey()) && r.has("step")) points.add(new double[] {r.get("step").asDouble(), r.get(key.getKey()).asDouble()});
            if (!points.isEmpty()) series.put(key.getValue(), points.toArray(new double[0][]));
        }
        if (series.isEmpty()) return false;
        Plots.lineChart(png, title, "step", "loss", series);
        return true;
    }
}
