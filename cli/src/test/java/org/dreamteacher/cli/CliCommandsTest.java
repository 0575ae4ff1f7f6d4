package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.assertPng;
import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each command on tiny settings, in this JVM, with its output files checked. */
class CliCommandsTest {
    @TempDir
    static Path dir;
    static Path teacher;

    @BeforeAll
    static void tinyTeacher() throws Exception {
        Progress.setEnabled(false);
        teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
    }

    @Test
    void infoShowsVersionsBackendsAndTheConvolutionCheck() {
        CliRun r = run("info").expectSuccess();
        assertTrue(r.out().contains("dreamteacher:"), r.out());
        assertTrue(r.out().contains("libtorch:") && r.out().contains("2.10.0"), r.out());
        assertTrue(r.out().contains("cpu        available"), r.out());
        assertTrue(r.out().contains("cuda"), r.out());
        assertTrue(r.out().contains("convolutions:") && !r.out().contains("not checked"), r.out());
        // The thread choice and why (all processors, OMP_NUM_THREADS or --threads).
        assertTrue(r.out().matches("(?s).*threads: +libtorch \\d+, loss kernels \\d+ \\((all \\d+ available|OMP_NUM_THREADS=|--threads \\d+\\)).*"), r.out());
        assertTrue(r.out().matches("(?s).*BLAS: +OpenBLAS (on 1 thread|threads left to OpenBLAS \\(OPENBLAS_).*"), r.out());
        assertTrue(r.out().contains("Fashion-MNIST:"), r.out());
        // the test class path has dreamteacher-assets, so both shipped teachers are there
        assertTrue(r.out().contains("shipped teacher:  present") && r.out().contains("shipped GAN:      present"), r.out());
    }

    @Test
    void versionAndHelp() {
        CliRun v = run("--version").expectSuccess();
        assertTrue(v.out().startsWith("dreamteacher "), v.out());
        assertTrue(v.out().contains("libtorch 2.10.0"), v.out());
        for (String cmd : List.of("info", "train-teacher", "sample", "distill")) {
            CliRun h = run(cmd, "--help").expectSuccess();
            assertTrue(h.out().contains("Usage: dreamteacher " + cmd), h.out());
        }
    }

    @Test
    void trainTeacherThenResume() throws Exception {
        Path out = dir.resolve("teacher-run");
        String[] common = {"train-teacher", "--batch", "4", "--base-channels", "8", "--channel-mult", "1,2", "--taps", "0,2", "--heads", "2",
            "--samples", "2", "--sample-steps", "2", "--checkpoint-every", "100", "--out", out.toString()};
        CliRun first = run(concat(common, "--steps", "3")).expectSuccess();
        assertTrue(first.out().contains("trained 3 steps"), first.out());
        assertTrue(Checkpoints.load(out.resolve("teacher.dtt")) instanceof GaussianDiffusion);
        assertPng(out.resolve("loss-curve.png"));
        BufferedImage grid = assertPng(out.resolve("sample-grid.png"));
        assertTrue(grid.getWidth() > 2 * 28, "two 28 px samples side by side, drawn at scale 2");

        run(concat(common, "--steps", "5")).expectOneLineError(1, "--resume");

        CliRun resumed = run(concat(common, "--steps", "5", "--resume")).expectSuccess();
        assertTrue(resumed.out().contains("trained 2 steps"), resumed.out());
        List<JsonNode> log = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertEquals(5, log.get(log.size() - 1).get("step").asInt());
        assertTrue(Files.isDirectory(out.resolve("checkpoints").resolve("step-00000005")));
    }

    @Test
    void sampleDrawsAGrid() throws Exception {
        Path png = dir.resolve("samples.png");
        CliRun r = run("sample", "--teacher", teacher.toString(), "--n", "2", "--steps", "2", "--out", png.toString()).expectSuccess();
        assertTrue(r.out().contains("2 samples (ddim, 2 steps)"), r.out());
        assertPng(png);
        Path ddpm = dir.resolve("samples-eta.png");
        run("sample", "--teacher", teacher.toString(), "--n", "1", "--steps", "3", "--eta", "1", "--seed", "7", "--out", ddpm.toString())
                .expectSuccess();
        assertPng(ddpm);
    }

    @Test
    void distillWritesABackboneAndPictures() throws Exception {
        Path out = dir.resolve("distill-run");
        CliRun r = run("distill", "--teacher", teacher.toString(), "--steps", "3", "--batch", "4", "--width", "8", "--regressor-channels", "16",
                "--out", out.toString()).expectSuccess();
        assertTrue(r.out().contains("tap pairing: regressor reads c2..c5 (PPM on c5); compared: c2 (8 ch) <- out2"), r.out());
        assertTrue(r.out().contains("distilled 3 steps"), r.out());
        assertTrue(Checkpoints.load(out.resolve("backbone.dtt")) instanceof ResNet);
        assertPng(out.resolve("loss-curve.png"));
        BufferedImage pca = assertPng(out.resolve("pca-features.png"));
        assertTrue(pca.getHeight() > 4 * 96, "one row per image, four images");
    }

    static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
