package org.dreamteacher.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.dreamteacher.eval.LabelEfficiencyStudy;
import org.dreamteacher.eval.LabelEfficiencyStudy.Cell;
import org.dreamteacher.eval.LabelEfficiencyStudy.Run;
import org.dreamteacher.eval.Mode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Puts the results of several studies (probe, finetune or segment runs, one JSON file each) into one table and
 * one chart, e.g. a backbone pretrained without labels, one pretrained with label guidance, and random
 * initialisation, each evaluated by its own command.
 */
@Command(name = "report", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Merge the results of several probe, finetune or segment runs into one table and one chart.",
            "Each STUDY is NAME=FILE or NAME=FILE#INIT: the runs in FILE (classification.json or segmentation.json), or only",
            "those of its init INIT (e.g. pretrained or random), shown as NAME.",
            "Writes <--name>.md and <--name>.png into --out."})
final class ReportCommand extends CliCommand {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameters(paramLabel = "STUDY", arity = "1..*", description = "NAME=FILE or NAME=FILE#INIT.")
    List<String> studies;

    @Option(names = "--title", paramLabel = "TEXT", description = "Chart and table title (default: the task's).")
    String title;

    @Option(names = "--name", paramLabel = "NAME", defaultValue = "report", description = "File name of the outputs (default: ${DEFAULT-VALUE}).")
    String name;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = ".", description = "Where the outputs go (default: the current folder).")
    Path out;

    @Override
    int execute() throws IOException {
        List<Run> runs = new ArrayList<>();
        String task = null;
        for (String study : studies) {
            int eq = study.indexOf('=');
            if (eq <= 0 || eq == study.length() - 1) throw usage("a study is NAME=FILE or NAME=FILE#INIT, got '" + study + "'");
            String label = study.substring(0, eq);
            String file = study.substring(eq + 1);
            String init = null;
            int hash = file.lastIndexOf('#');
            if (hash >= 0) {
                init = file.substring(hash + 1);
                file = file.substring(0, hash);
            }
            Path path = requireFile(Path.of(file), label);
            JsonNode root = JSON.readTree(path.toFile());
            String t = root.path("task").asText("");
            if (t.isEmpty() || !root.path("runs").isArray()) throw usage(path + " is not the JSON file of a probe, finetune or segment run");
            if (task != null && !task.equals(t)) throw usage("cannot merge " + task + " with " + t + " (" + path + ")");
            task = t;
            int before = runs.size();
            for (JsonNode r : root.path("runs")) {
                if (init != null && !init.equals(r.path("init").asText())) continue;
                String shown = init != null || root.path("inits").size() <= 1 ? label : label + " (" + r.path("init").asText() + ")";
                runs.add(new Run(shown, Mode.parse(r.path("mode").asText()), r.path("x").asDouble(), r.path("seed").asLong(),
                        r.path("value").asDouble(Double.NaN), r.path("result").path("seconds").asDouble(Double.NaN), null));
            }
            if (runs.size() == before) throw usage(path + " has no runs" + (init == null ? "" : " of init '" + init + "'"));
        }
        boolean classification = "classification".equals(task);
        String heading = title != null ? title : classification ? "Label-efficient classification" : "Label-efficient segmentation";
        String xLabel = classification ? "label fraction" : "labelled train scenes";
        String metric = classification ? "accuracy" : "mIoU";
        List<Cell> cells = LabelEfficiencyStudy.summarise(runs);

        Files.createDirectories(out);
        Path md = out.resolve(name + ".md");
        Path png = out.resolve(name + ".png");
        Files.writeString(md, "# " + heading + "\n\nTest " + metric + " in %, mean ± sample std over seeds (n runs). Columns: " + xLabel + ".\n\n"
                + LabelEfficiencyStudy.table(cells, x -> classification ? num(100 * x) + "%" : Long.toString(Math.round(x))));
        LabelEfficiencyStudy.chart(png, heading, xLabel, "test " + metric + " (%)", cells);
        out().printf(Locale.ROOT, "%d runs in %d cells: %s, %s%n", runs.size(), cells.size(), md, png);
        return 0;
    }
}
