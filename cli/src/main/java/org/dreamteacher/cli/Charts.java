package org.dreamteacher.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dreamteacher.data.Plots;
import org.dreamteacher.train.MetricsLog;

/** The pictures commands leave in their output folders. */
final class Charts {
    private Charts() {}

    /**
     * A loss curve of the {@code keys} logged in {@code metrics.jsonl} (those absent from the log are left out).
     * Returns false, writing nothing, when the log is missing or has no such values.
     */
    static boolean lossCurve(Path metrics, Path png, String title, List<String> keys) throws IOException {
        if (!Files.isRegularFile(metrics)) return false;
        List<JsonNode> records = MetricsLog.read(metrics);
        Map<String, double[][]> series = new LinkedHashMap<>();
        for (String key : keys) {
            List<double[]> points = new ArrayList<>();
            for (JsonNode r : records)
                if (r.has(key) && r.has("step")) points.add(new double[] {r.get("step").asDouble(), r.get(key).asDouble()});
            if (!points.isEmpty()) series.put(key.replace('_', ' '), points.toArray(new double[0][]));
        }
        if (series.isEmpty()) return false;
        Plots.lineChart(png, title, "step", "loss", series);
        return true;
    }
}
