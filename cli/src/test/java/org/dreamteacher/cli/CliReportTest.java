package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.assertPng;
import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** report: runs of several studies merged into one table and chart. */
class CliReportTest {
    @TempDir
    Path dir;

    /** A classification study file as finetune writes it (only the fields report reads). */
    private Path study(String name, String runs) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, "{\"task\":\"classification\",\"inits\":[{\"name\":\"pretrained\"},{\"name\":\"random\"}],\"runs\":[" + runs + "]}");
        return f;
    }

    private static String r(String init, double x, int seed, double value) {
        return String.format(java.util.Locale.ROOT, "{\"init\":\"%s\",\"mode\":\"FINE_TUNE\",\"x\":%s,\"seed\":%d,\"value\":%s,\"result\":{\"seconds\":1}}",
                init, x, seed, value);
    }

    @Test
    void mergesStudiesWithMeanAndSampleStd() throws IOException {
        Path a = study("a.json", String.join(",", r("pretrained", 0.01, 0, 0.80), r("pretrained", 0.01, 1, 0.82), r("random", 0.01, 0, 0.70),
                r("random", 0.01, 1, 0.74), r("random", 0.1, 0, 0.85)));
        Path b = study("b.json", String.join(",", r("pretrained", 0.01, 0, 0.90), r("pretrained", 0.01, 1, 0.90)));
        Path out = dir.resolve("merged");
        CliRun res = run("report", "--out", out.toString(), "--name", "fm", "unsupervised=" + a + "#pretrained", "random=" + a + "#random",
                "guided=" + b + "#pretrained").expectSuccess();
        assertTrue(res.out().contains("7 runs in 4 cells"), res.out());
        String md = Files.readString(out.resolve("fm.md"));
        assertTrue(md.contains("| init | mode | 1% | 10% |"), md);
        assertTrue(md.contains("| unsupervised | finetune | 81.00 ± 1.41 (2) |  |"), md);
        assertTrue(md.contains("| random | finetune | 72.00 ± 2.83 (2) | 85.00 ± 0.00 (1) |"), md);
        assertTrue(md.contains("| guided | finetune | 90.00 ± 0.00 (2) |  |"), md);
        assertPng(out.resolve("fm.png"));
    }

    @Test
    void badStudies() throws IOException {
        Path a = study("a.json", r("pretrained", 0.01, 0, 0.8));
        run("report", "--out", dir.toString(), "nonsense").expectOneLineError(2, "NAME=FILE");
        run("report", "--out", dir.toString(), "x=" + dir.resolve("missing.json")).expectOneLineError(2, "no such file");
        run("report", "--out", dir.toString(), "x=" + a + "#random").expectOneLineError(2, "no runs of init 'random'");
        Path seg = dir.resolve("seg.json");
        Files.writeString(seg, "{\"task\":\"segmentation\",\"runs\":[]}");
        run("report", "--out", dir.toString(), "x=" + a, "y=" + seg).expectOneLineError(2, "cannot merge classification with segmentation");
        Path junk = dir.resolve("junk.json");
        Files.writeString(junk, "{\"hello\":1}");
        run("report", "--out", dir.toString(), "x=" + junk).expectOneLineError(2, "is not the JSON file");
    }
}
