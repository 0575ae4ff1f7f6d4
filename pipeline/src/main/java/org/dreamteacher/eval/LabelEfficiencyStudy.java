package org.dreamteacher.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.DoubleFunction;
import org.dreamteacher.data.FashionScenes;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.viz.Plots;
import org.dreamteacher.data.SegmentationDataset;
import org.dreamteacher.torch.AtomicWrite;

/**
 * The label-efficiency protocol of docs/design.md section 6 as one call: every backbone init (typically the
 * pretrained checkpoint and the same config from random initialisation) is probed and/or fine-tuned at every
 * label budget with every seed, and the results are summarised as mean ± std per (init, mode, budget). The
 * paper's claim is a comparison across inits at small budgets, and a single seed at 1% of the labels is too
 * noisy to support or refute it, hence several seeds and the std beside every mean.
 *
 * <p>Written to the output folder, and rewritten after every run so that an interrupted study keeps what it
 * measured: {@code <task>.json} (every run, the summary, settings, data sizes, provenance such as the command
 * and the commit, wall time), {@code <task>.md} (the table), {@code <task>.png} (the metric against the
 * budget on a log axis, one line per init and mode, std as error bars); segmentation overlays go to
 * {@code overlays/<init>/}. Std is the sample standard deviation over seeds (n − 1), 0 for one seed; the
 * protocol asks for at least three.
 */
public final class LabelEfficiencyStudy {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * The classification grid: label fractions (e.g. 0.01, 0.1, 1), seeds, and one settings per mode (their
     * own fraction and seed are replaced by the grid's).
     */
    public record ClassificationPlan(List<Double> fractions, List<Long> seeds, List<Classifier.Settings> modes) {
        public ClassificationPlan {
            fractions = List.copyOf(fractions);
            seeds = List.copyOf(seeds);
            modes = List.copyOf(modes);
            if (fractions.isEmpty() || seeds.isEmpty() || modes.isEmpty()) throw new IllegalArgumentException("the plan needs fractions, seeds and modes");
            for (double f : fractions) if (!(f > 0 && f <= 1)) throw new IllegalArgumentException("label fraction must be in (0, 1], got " + f);
            distinct(fractions, "fractions");
            distinct(seeds, "seeds");
            distinct(modes.stream().map(Classifier.Settings::mode).toList(), "modes");
        }
    }

    /**
     * The segmentation grid: numbers of labelled train scenes (e.g. 50, 200, 1000), seeds, one settings per
     * mode (their seed replaced by the grid's), the scene options, and the fixed test scenes (count and seed).
     */
    public record SegmentationPlan(List<Integer> sceneCounts, List<Long> seeds, List<SegmentationFineTune.Settings> modes,
            FashionScenes.Options scenes, int testScenes, long testSeed) {
        public SegmentationPlan {
            sceneCounts = List.copyOf(sceneCounts);
            seeds = List.copyOf(seeds);
            modes = List.copyOf(modes);
            Objects.requireNonNull(scenes, "scenes");
            if (sceneCounts.isEmpty() || seeds.isEmpty() || modes.isEmpty()) throw new IllegalArgumentException("the plan needs scene counts, seeds and modes");
            for (int c : sceneCounts) if (c <= 0) throw new IllegalArgumentException("scene counts must be > 0, got " + c);
            if (testScenes <= 0) throw new IllegalArgumentException("test scenes must be > 0, got " + testScenes);
            distinct(sceneCounts, "scene counts");
            distinct(seeds, "seeds");
            distinct(modes.stream().map(SegmentationFineTune.Settings::mode).toList(), "modes");
        }
    }

    /** One run: its metric ({@code value}: accuracy or mIoU, in [0, 1]) at budget {@code x}, and its full record. */
    public record Run(String init, Mode mode, double x, long seed, double value, double seconds, ObjectNode detail) {}

    /** Mean and sample std of the metric over the seeds of one (init, mode, budget). */
    public record Cell(String init, Mode mode, double x, int n, double mean, double std) {}

    /** What a study wrote. */
    public record Report(String task, List<Run> runs, List<Cell> cells, Path json, Path markdown, Path plot, double seconds) {}

    private final List<BackboneSource> inits;
    private final Path outputDir;
    private final Map<String, String> provenance;

    /**
     * @param inits     the backbones to compare (distinct names), e.g. {@link BackboneSource#pretrainedAndRandom}
     * @param outputDir where results go (created)
     */
    public LabelEfficiencyStudy(List<BackboneSource> inits, Path outputDir) {
        this(inits, outputDir, Map.of());
    }

    /** As above, with provenance written beside the results (e.g. "command", "commit", "teacher"). */
    public LabelEfficiencyStudy(List<BackboneSource> inits, Path outputDir, Map<String, String> provenance) {
        this.inits = List.copyOf(inits);
        if (this.inits.isEmpty()) throw new IllegalArgumentException("no backbone to evaluate");
        distinct(this.inits.stream().map(BackboneSource::name).toList(), "init names");
        this.outputDir = Objects.requireNonNull(outputDir, "outputDir");
        this.provenance = Collections.unmodifiableMap(new LinkedHashMap<>(provenance));
    }

    /** Classification on {@code train} (balanced label subsets) scored on {@code test}: classification.{json,md,png}. */
    public Report classification(ImageDataset train, ImageDataset test, ClassificationPlan plan) throws IOException {
        return classification(train, test, plan, null);
    }

    /** As above, handing every trained module to {@code trained} (may be null) before it is closed. */
    public Report classification(ImageDataset train, ImageDataset test, ClassificationPlan plan, Classifier.Trained trained) throws IOException {
        Files.createDirectories(outputDir);
        long t0 = System.nanoTime();
        List<Run> runs = new ArrayList<>();
        ObjectNode data = JSON.createObjectNode();
        data.put("train", train.toString()).put("trainImages", train.size()).put("test", test.toString()).put("testImages", test.size());
        ArrayNode settings = JSON.createArrayNode();
        for (Classifier.Settings s : plan.modes()) settings.add(JSON.valueToTree(s));
        Output out = new Output("classification", "Label-efficient classification", "label fraction", "test accuracy (%)",
                "accuracy", x -> Classifier.percent(x), data, settings);
        for (BackboneSource init : inits) {
            for (Classifier.Settings base : plan.modes()) {
                for (double f : plan.fractions()) {
                    for (long seed : plan.seeds()) {
                        Classifier.Result r = Classifier.run(init, train, test, base.withLabelFraction(f).withSeed(seed), trained);
                        ObjectNode d = JSON.valueToTree(r);
                        runs.add(new Run(init.name(), base.mode(), f, seed, r.accuracy(), r.seconds(), d));
                        out.write(runs, seconds(t0), false);
                    }
                }
            }
        }
        return out.write(runs, seconds(t0), true);
    }

    /**
     * Segmentation on Fashion-MNIST scenes: train scenes from {@code trainItems} (nested over scene counts for
     * one seed), test scenes from {@code testItems}: segmentation.{json,md,png} and overlays.
     */
    public Report segmentation(ImageDataset trainItems, ImageDataset testItems, SegmentationPlan plan) throws IOException {
        Files.createDirectories(outputDir);
        long t0 = System.nanoTime();
        SegmentationDataset test = SegmentationFineTune.testScenes(testItems, plan.scenes(), plan.testScenes(), plan.testSeed());
        int maxCount = Collections.max(plan.sceneCounts());
        List<String> classNames = test.classNames();
        ObjectNode data = JSON.createObjectNode();
        data.put("trainItems", trainItems.toString()).put("testItems", testItems.toString()).put("testScenes", test.size())
                .put("testSeed", plan.testSeed());
        data.set("sceneOptions", JSON.valueToTree(plan.scenes()));
        data.set("classNames", JSON.valueToTree(classNames));
        ArrayNode settings = JSON.createArrayNode();
        for (SegmentationFineTune.Settings s : plan.modes()) settings.add(JSON.valueToTree(s));
        Output out = new Output("segmentation", "Label-efficient segmentation (Fashion-MNIST scenes)", "labelled train scenes",
                "test mIoU (%)", "mIoU", x -> Long.toString(Math.round(x)), data, settings);
        out.classNames = classNames;
        Map<Long, SegmentationDataset> trainBySeed = new LinkedHashMap<>();
        List<Run> runs = new ArrayList<>();
        for (BackboneSource init : inits) {
            Path overlays = outputDir.resolve("overlays").resolve(init.name());
            for (SegmentationFineTune.Settings base : plan.modes()) {
                for (int count : plan.sceneCounts()) {
                    for (long seed : plan.seeds()) {
                        SegmentationDataset all = trainBySeed.computeIfAbsent(seed,
                                s -> SegmentationFineTune.trainScenes(trainItems, plan.scenes(), maxCount, s));
                        SegmentationDataset train = count == maxCount ? all : all.subset(firstN(count));
                        SegmentationFineTune.Result r = SegmentationFineTune.run(init, train, test, base.withSeed(seed), overlays);
                        runs.add(new Run(init.name(), base.mode(), count, seed, r.meanIoU(), r.seconds(), segmentationDetail(r)));
                        out.write(runs, seconds(t0), false);
                    }
                }
            }
        }
        return out.write(runs, seconds(t0), true);
    }

    /**
     * A Markdown table of cells: a row per (init, mode), a column per budget ({@code xName} writes its heading),
     * "mean ± std (n)" in percent.
     */
    public static String table(List<Cell> cells, DoubleFunction<String> xName) {
        List<Double> xs = budgets(cells);
        StringBuilder sb = new StringBuilder("| init | mode |");
        for (double x : xs) sb.append(' ').append(xName.apply(x)).append(" |");
        sb.append("\n|---|---|").append("---:|".repeat(xs.size())).append('\n');
        Map<String, Map<Double, Cell>> rows = new LinkedHashMap<>();
        for (Cell c : cells) rows.computeIfAbsent(c.init() + "\u0000" + c.mode().label(), k -> new LinkedHashMap<>()).put(c.x(), c);
        for (Map.Entry<String, Map<Double, Cell>> row : rows.entrySet()) {
            String[] key = row.getKey().split("\u0000");
            sb.append("| ").append(key[0]).append(" | ").append(key[1]).append(" |");
            for (double x : xs) {
                Cell c = row.getValue().get(x);
                sb.append(' ').append(c == null ? "" : String.format(Locale.ROOT, "%.2f ± %.2f (%d)", 100 * c.mean(), 100 * c.std(), c.n()))
                        .append(" |");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** A chart of cells: the metric (%) against the budget on a log axis, a line per (init, mode), std as error bars. */
    public static void chart(Path png, String title, String xLabel, String yLabel, List<Cell> cells) throws IOException {
        Map<String, List<double[]>> points = new LinkedHashMap<>();
        for (Cell c : cells) points.computeIfAbsent(c.init() + ", " + c.mode().label(), k -> new ArrayList<>())
                .add(new double[] {c.x(), 100 * c.mean(), 100 * c.std()});
        Map<String, double[][]> series = new LinkedHashMap<>();
        for (Map.Entry<String, List<double[]>> e : points.entrySet()) {
            List<double[]> p = new ArrayList<>(e.getValue());
            p.sort((a, b) -> Double.compare(a[0], b[0]));
            series.put(e.getKey(), p.toArray(new double[0][]));
        }
        Plots.lineChart(png, title + " (mean ± std over seeds)", xLabel, yLabel, series, true);
    }

    private static List<Double> budgets(List<Cell> cells) {
        List<Double> xs = new ArrayList<>();
        for (Cell c : cells) if (!xs.contains(c.x())) xs.add(c.x());
        Collections.sort(xs);
        return xs;
    }

    /** Mean and sample std per (init, mode, x), in the order the runs first reach each cell. */
    public static List<Cell> summarise(List<Run> runs) {
        Map<List<Object>, List<Double>> groups = new LinkedHashMap<>();
        for (Run r : runs) groups.computeIfAbsent(List.of(r.init(), r.mode(), r.x()), k -> new ArrayList<>()).add(r.value());
        List<Cell> cells = new ArrayList<>();
        for (Map.Entry<List<Object>, List<Double>> e : groups.entrySet()) {
            List<Double> v = e.getValue();
            double mean = 0;
            for (double d : v) mean += d;
            mean /= v.size();
            double ss = 0;
            for (double d : v) ss += (d - mean) * (d - mean);
            double std = v.size() > 1 ? Math.sqrt(ss / (v.size() - 1)) : 0;
            cells.add(new Cell((String) e.getKey().get(0), (Mode) e.getKey().get(1), (Double) e.getKey().get(2), v.size(), mean, std));
        }
        return cells;
    }

    private static ObjectNode segmentationDetail(SegmentationFineTune.Result r) {
        ObjectNode d = JSON.createObjectNode();
        d.put("mode", r.mode().name()).put("trainScenes", r.trainScenes()).put("testScenes", r.testScenes()).put("seed", r.seed());
        putNumber(d, "meanIoU", r.meanIoU());
        putNumber(d, "pixelAccuracy", r.pixelAccuracy());
        ArrayNode iou = d.putArray("classIoU");
        for (double v : r.classIoU()) {
            if (Double.isFinite(v)) iou.add(v);
            else iou.addNull();
        }
        d.put("steps", r.steps()).put("batchSize", r.batchSize());
        putNumber(d, "finalLoss", r.finalLoss());
        d.put("seconds", r.seconds());
        if (r.overlay() != null) d.put("overlay", r.overlay().toString());
        d.set("confusion", JSON.valueToTree(r.confusion().toArray()));
        return d;
    }

    private static void putNumber(ObjectNode n, String key, double v) {
        if (Double.isFinite(v)) n.put(key, v);
        else n.putNull(key);
    }

    private static int[] firstN(int n) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        return idx;
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static <T> void distinct(List<T> values, String what) {
        Set<T> seen = new HashSet<>();
        for (T v : values) if (!seen.add(v)) throw new IllegalArgumentException("duplicate " + what + ": " + v);
    }

    /** Writes the three files of one task. */
    private final class Output {
        final String task, title, xLabel, yLabel, metric;
        final DoubleFunction<String> xName;
        final ObjectNode data;
        final ArrayNode settings;
        List<String> classNames = List.of();

        Output(String task, String title, String xLabel, String yLabel, String metric, DoubleFunction<String> xName, ObjectNode data,
                ArrayNode settings) {
            this.task = task;
            this.title = title;
            this.xLabel = xLabel;
            this.yLabel = yLabel;
            this.metric = metric;
            this.xName = xName;
            this.data = data;
            this.settings = settings;
        }

        Report write(List<Run> runs, double seconds, boolean complete) throws IOException {
            List<Cell> cells = summarise(runs);
            Path json = outputDir.resolve(task + ".json");
            Path md = outputDir.resolve(task + ".md");
            Path png = outputDir.resolve(task + ".png");
            writeAtomically(json, JSON.writeValueAsString(json(runs, cells, seconds, complete)) + "\n");
            writeAtomically(md, markdown(runs, cells, seconds, complete));
            chart(png, title, xLabel, yLabel, cells);
            return new Report(task, List.copyOf(runs), cells, json, md, png, seconds);
        }

        private ObjectNode json(List<Run> runs, List<Cell> cells, double seconds, boolean complete) {
            ObjectNode root = JSON.createObjectNode();
            root.put("task", task).put("metric", metric).put("complete", complete).put("seconds", seconds);
            root.set("provenance", JSON.valueToTree(provenance));
            ArrayNode initNodes = root.putArray("inits");
            for (BackboneSource s : inits) {
                ObjectNode n = initNodes.addObject().put("name", s.name());
                if (s.checkpoint() != null) n.put("checkpoint", s.checkpoint().toString());
                else n.put("checkpoint", (String) null);
                if (s.init() != null) n.put("init", s.init().toString());
                n.put("kind", s.config().kind());
                n.set("config", JSON.valueToTree(s.config()));
            }
            root.set("data", data);
            root.set("settings", settings);
            ArrayNode summary = root.putArray("summary");
            for (Cell c : cells) {
                ObjectNode n = summary.addObject();
                n.put("init", c.init()).put("mode", c.mode().name()).put("x", c.x()).put("n", c.n());
                putNumber(n, "mean", c.mean());
                putNumber(n, "std", c.std());
                ArrayNode values = n.putArray("values");
                for (Run r : runs) if (sameCell(r, c)) values.add(r.value());
                if (!classNames.isEmpty() || runs.stream().anyMatch(r -> r.detail().has("classIoU"))) n.set("classIoUMean", classIoUMean(runs, c));
            }
            ArrayNode runNodes = root.putArray("runs");
            for (Run r : runs) {
                ObjectNode n = runNodes.addObject();
                n.put("init", r.init()).put("mode", r.mode().name()).put("x", r.x()).put("seed", r.seed());
                putNumber(n, "value", r.value());
                n.set("result", r.detail());
            }
            return root;
        }

        private ArrayNode classIoUMean(List<Run> runs, Cell c) {
            ArrayNode out = JSON.createArrayNode();
            int k = -1;
            for (Run r : runs) if (sameCell(r, c)) k = Math.max(k, r.detail().path("classIoU").size());
            for (int i = 0; i < k; i++) {
                double sum = 0;
                int n = 0;
                for (Run r : runs) {
                    if (!sameCell(r, c)) continue;
                    var v = r.detail().path("classIoU").path(i);
                    if (v.isNumber()) {
                        sum += v.asDouble();
                        n++;
                    }
                }
                if (n == 0) out.addNull();
                else out.add(sum / n);
            }
            return out;
        }

        private String markdown(List<Run> runs, List<Cell> cells, double seconds, boolean complete) {
            StringBuilder sb = new StringBuilder();
            sb.append("# ").append(title).append("\n\n");
            if (!complete) sb.append("**Incomplete: the study is still running or was interrupted.**\n\n");
            sb.append("Test ").append(metric).append(" in %, mean ± sample std over seeds (n runs). Columns: ").append(xLabel).append(".\n\n");
            sb.append(table(cells, xName));
            List<Double> xs = budgets(cells);
            if (!classNames.isEmpty() && !cells.isEmpty()) {
                double xMax = xs.get(xs.size() - 1);
                sb.append("\nPer-class IoU (%) at ").append(xName.apply(xMax)).append(' ').append(xLabel).append(", mean over seeds:\n\n| class |");
                List<Cell> last = cells.stream().filter(c -> c.x() == xMax).toList();
                for (Cell c : last) sb.append(' ').append(c.init()).append(", ").append(c.mode().label()).append(" |");
                sb.append("\n|---|");
                for (int i = 0; i < last.size(); i++) sb.append("---:|");
                sb.append('\n');
                List<ArrayNode> means = last.stream().map(c -> classIoUMean(runs, c)).toList();
                for (int k = 0; k < classNames.size(); k++) {
                    sb.append("| ").append(classNames.get(k)).append(" |");
                    for (ArrayNode m : means) {
                        var v = m.path(k);
                        sb.append(' ').append(v.isNumber() ? String.format(Locale.ROOT, "%.2f", 100 * v.asDouble()) : "–").append(" |");
                    }
                    sb.append('\n');
                }
            }
            sb.append("\nRuns: ").append(runs.size()).append(String.format(Locale.ROOT, "; wall time %.1f s.\n", seconds));
            if (!provenance.isEmpty()) {
                sb.append('\n');
                for (Map.Entry<String, String> e : provenance.entrySet())
                    sb.append("- ").append(e.getKey()).append(": `").append(e.getValue()).append("`\n");
            }
            sb.append("\nInits:\n\n");
            for (BackboneSource s : inits)
                sb.append("- ").append(s.name()).append(": ").append(s.isRandom() ? "random initialisation" : "`" + (s.checkpoint() != null ? s.checkpoint() : s.init()) + "`")
                        .append(" (").append(s.config()).append(")\n");
            return sb.toString();
        }

        private boolean sameCell(Run r, Cell c) {
            return r.init().equals(c.init()) && r.mode() == c.mode() && r.x() == c.x();
        }
    }

    private static void writeAtomically(Path file, String text) throws IOException {
        AtomicWrite.writeString(file, AtomicWrite.Access.EVERYONE, text);
    }
}
