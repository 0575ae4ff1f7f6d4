package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.assertPng;
import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dreamteacher.gan.GanConfig;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.gan.ShippedGan;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dreamteacher train-gan}: help, a two-step run and its files, a resume, one-line errors for bad options; and
 * the trained generator as a teacher, online ({@code distill --gan}) and through a generated store ({@code encode --gan}).
 */
class CliTrainGanTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void quiet() {
        Progress.setEnabled(false);
    }

    private static String[] args(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("train-gan", "--batch", "4", "--width", "8", "--samples", "4", "--checkpoint-every", "100",
                "--out", out.toString()));
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    @Test
    void help() {
        CliRun h = run("train-gan", "--help").expectSuccess();
        assertTrue(h.out().contains("Usage: dreamteacher train-gan"), h.out());
        for (String o : List.of("--data", "--images", "--steps", "--batch", "--lr", "--r1-gamma", "--r1-every", "--ema", "--seed",
            "--checkpoint-every", "--sample-every", "--out", "--resume"))
            assertTrue(h.out().contains(o), o + " missing from:\n" + h.out());
        assertTrue(run("--help").expectSuccess().out().contains("train-gan"));
    }

    @Test
    void twoStepsThenResume() throws Exception {
        Path out = dir.resolve("gan");
        CliRun first = run(args(out, "--steps", "2")).expectSuccess();
        assertTrue(first.out().contains("trained 2 steps"), first.out());
        assertTrue(first.out().contains("32 px canvas"), first.out());
        try (GanGenerator g = Checkpoints.load(out.resolve("generator.dtt"), GanGenerator.class)) {
            assertEquals(28, g.config().imageSize());
            assertEquals(List.of(8, 8, 8, 8), g.config().widths());
        }
        List<JsonNode> log = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertEquals(2, log.size());
        assertTrue(log.get(0).has("loss_g") && log.get(0).has("loss_d") && log.get(0).has("r1"), log.toString());
        assertPng(out.resolve("loss-curve.png"));
        BufferedImage grid = assertPng(out.resolve("sample-grid.png"));
        assertEquals(2 * (28 * 2 + 2) + 2, grid.getWidth(), "2x2 samples of 28 px at scale 2");
        assertTrue(Files.isDirectory(out.resolve("checkpoints/step-00000002")));

        run(args(out, "--steps", "3")).expectOneLineError(1, "--resume");
        run(args(out, "--steps", "3", "--resume", "--lr", "0.001")).expectOneLineError(1, "settings.lr");
        CliRun resumed = run(args(out, "--steps", "3", "--resume")).expectSuccess();
        assertTrue(resumed.out().contains("trained 1 steps"), resumed.out());
        assertEquals(3, MetricsLog.read(out.resolve("metrics.jsonl")).get(2).get("step").asInt());
    }

    @Test
    void distilFromTheGan() throws Exception {
        Path gan = dir.resolve("gan-teacher");
        run(args(gan, "--steps", "1")).expectSuccess();
        Path generator = gan.resolve("generator.dtt");
        Path out = dir.resolve("distill-gan");
        String[] common = {"distill", "--gan", generator.toString(), "--batch", "4", "--width", "4", "--regressor-channels", "8",
            "--checkpoint-every", "100", "--out", out.toString()};
        CliRun r = run(concat(common, "--steps", "2")).expectSuccess();
        assertTrue(r.out().contains("GAN generator") && r.out().contains("32x32 px generated images"), r.out());
        assertTrue(r.out().contains("b32") && r.out().contains("b4"), "every generator block is paired with a backbone level:\n" + r.out());
        assertTrue(r.out().contains("distilled 2 steps"), r.out());
        assertTrue(Checkpoints.load(out.resolve("backbone.dtt")) instanceof org.dreamteacher.nn.Backbone);
        assertEquals(2, MetricsLog.read(out.resolve("metrics.jsonl")).size());
        assertPng(out.resolve("loss-curve.png"));
        CliRun resumed = run(concat(common, "--steps", "3", "--resume")).expectSuccess();
        assertTrue(resumed.out().contains("distilled 1 steps"), resumed.out());

        // label guidance: 1% of the embedded images labelled, inverted into the generator for the interpreter
        Path guided = dir.resolve("distill-gan-guided");
        CliRun lg = run("distill", "--gan", generator.toString(), "--batch", "4", "--width", "4", "--regressor-channels", "8", "--steps", "2",
                "--label-guided", "--labels", "1", "--interpreter-steps", "2", "--inversion-steps", "2", "--out", guided.toString()).expectSuccess();
        assertTrue(lg.out().contains("label guidance: classification, 60 labelled images"), lg.out());
        assertTrue(Files.exists(guided.resolve("inverted-styles.dtt")) && Files.exists(guided.resolve("interpreter.dtt"))
                && Files.exists(guided.resolve("labelled.json")), lg.out());
        assertTrue(Files.readString(guided.resolve("metrics.jsonl")).contains("label_distill"));

        // the generator exports to safetensors and back, as every model
        Path st = dir.resolve("generator.safetensors"), back = dir.resolve("generator-back.dtt");
        run("export", "--model", generator.toString(), "--out", st.toString()).expectSuccess();
        run("export", "--model", st.toString(), "--format", "dtt", "--out", back.toString()).expectSuccess();
        try (GanGenerator a = Checkpoints.load(generator, GanGenerator.class); GanGenerator b = Checkpoints.load(back, GanGenerator.class)) {
            assertEquals(a.config(), b.config());
            var pa = a.named_parameters(true);
            var pb = b.named_parameters(true);
            assertEquals(pa.size(), pb.size());
            for (long i = 0; i < pa.size(); i++) assertTrue(pa.get(i).value().equal(pb.get(i).value()), pa.get(i).key().getString());
        }

        // encode --gan --synthetic: the generator's images and taps into a store, which distill --features trains from
        Path store = dir.resolve("gan-store");
        CliRun enc = run("encode", "--gan", generator.toString(), "--synthetic", "10", "--chunk-size", "4", "--batch", "2", "--precision",
                "float32", "--out", store.toString()).expectSuccess();
        assertTrue(enc.out().contains("10 images drawn from the GAN generator") && enc.out().contains("taps b4, b8, b16, b32"), enc.out());
        assertTrue(enc.out().contains("encoded 3 chunks"), enc.out());
        Path fromStore = dir.resolve("distill-gan-store");
        CliRun d = run("distill", "--features", store.toString(), "--batch", "4", "--width", "4", "--regressor-channels", "8", "--steps", "2",
                "--out", fromStore.toString()).expectSuccess();
        assertTrue(d.out().contains("stored generated features") && d.out().contains("10 images"), d.out());
        assertTrue(d.out().contains("distilled 2 steps"), d.out());
        run("distill", "--features", store.toString(), "--timestep", "10", "--out", dir.resolve("bad-t").toString())
                .expectOneLineError(2, "GAN generator's features");
        run("distill", "--features", store.toString(), "--data", "embedded", "--out", dir.resolve("bad-d").toString())
                .expectOneLineError(2, "drop --data");
        String e = dir.resolve("encode-bad").toString();
        run("encode", "--gan", generator.toString(), "--out", e).expectOneLineError(2, "--gan needs --synthetic");
        run("encode", "--gan", generator.toString(), "--synthetic", "4", "--timestep", "10", "--out", e).expectOneLineError(2, "--timestep applies");
        run("encode", "--gan", generator.toString(), "--synthetic", "4", "--sample-steps", "5", "--out", e).expectOneLineError(2, "--sample-steps");
        run("encode", "--gan", generator.toString(), "--synthetic", "4", "--teacher", generator.toString(), "--out", e)
                .expectOneLineError(2, "either --gan or a teacher");
        run("encode", "--gan", dir.resolve("none.dtt").toString(), "--synthetic", "4", "--out", e).expectOneLineError(2, "--gan: no such file");

        Path bad = dir.resolve("distill-bad");
        String g = generator.toString();
        run("distill", "--gan", g, "--teacher", g, "--out", bad.toString()).expectOneLineError(2, "give one of --gan");
        run("distill", "--gan", g, "--data", "embedded", "--out", bad.toString()).expectOneLineError(2, "drop --data");
        run("distill", "--gan", g, "--label-guided", "--scenes", "8", "--out", bad.toString()).expectOneLineError(2, "drop --scenes");
        run("distill", "--gan", g, "--label-guided", "--inversion-steps", "0", "--out", bad.toString()).expectOneLineError(2, "--inversion-steps");
        run("distill", "--gan", g, "--timestep", "10", "--out", bad.toString()).expectOneLineError(2, "--timestep");
        run("distill", "--gan", g, "--nproc", "2", "--out", bad.toString()).expectOneLineError(2, "one process");
        run("distill", "--gan", dir.resolve("none.dtt").toString(), "--out", bad.toString()).expectOneLineError(2, "--gan: no such file");
        Path disc = gan.resolve("checkpoints/step-00000001/discriminator.dtt");
        run("distill", "--gan", disc.toString(), "--batch", "4", "--out", bad.toString()).expectOneLineError(1, "gan-discriminator");
    }

    /**
     * {@code --gan shipped} is the generator in dreamteacher-assets: loaded from the class path, named by its resource
     * in what the run writes, and a file named {@code shipped} stays reachable as {@code ./shipped}.
     */
    @Test
    void theShippedGenerator() throws Exception {
        try (GanGenerator g = ShippedGan.load()) {
            assertEquals(new GanConfig(1, 28, 64, 64, 2, List.of(64, 64, 32, 16)), g.config());
        }
        Path out = dir.resolve("distill-shipped-gan");
        CliRun r = run("distill", "--gan", "shipped", "--batch", "4", "--width", "4", "--regressor-channels", "8", "--steps", "1",
                "--checkpoint-every", "100", "--out", out.toString()).expectSuccess();
        assertTrue(r.out().contains("from shipped:" + ShippedGan.RESOURCE), r.out());
        assertTrue(r.out().contains("distilled 1 steps"), r.out());
        run("distill", "--gan", "./shipped", "--out", dir.resolve("bad-shipped").toString()).expectOneLineError(2, "--gan: no such file: ./shipped");
        run("gan-quality", "--generator", "./shipped", "--classifier", "none.dtt").expectOneLineError(2, "--generator: no such file: ./shipped");
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /**
     * A learning rate so large that the first discriminator update makes the generator's loss NaN: the run stops at
     * that step, before its optimiser step and before any checkpoint, with what to do.
     */
    @Test
    void aDivergingRunStopsWithAdvice() throws Exception {
        Path out = dir.resolve("diverging");
        CliRun r = run("train-gan", "--batch", "4", "--width", "8", "--samples", "4", "--steps", "6", "--lr", "1e30", "--checkpoint-every", "1",
                "--out", out.toString()).expectOneLineError(1, "Lower the learning rate");
        assertTrue(r.err().contains("step 1: non-finite generator loss") && r.err().contains("the step was not taken"), r.err());
        assertTrue(!Files.exists(out.resolve("generator.dtt")), "no teacher from a diverged run");
        assertTrue(!Files.exists(out.resolve("checkpoints/step-00000001")), "no checkpoint of the refused step");
    }

    @Test
    void badOptionsGiveOneLineErrors() {
        Path out = dir.resolve("bad");
        run("train-gan", "--steps", "-1", "--out", out.toString()).expectOneLineError(2, "--steps must be > 0");
        run("train-gan", "--lr", "nan", "--out", out.toString()).expectOneLineError(2, "--lr");
        run("train-gan", "--r1-every", "0", "--out", out.toString()).expectOneLineError(2, "--r1-every must be > 0");
        run("train-gan", "--r1-gamma", "-1", "--out", out.toString()).expectOneLineError(2, "--r1-gamma");
        run("train-gan", "--width", "0", "--out", out.toString()).expectOneLineError(2, "--width must be in 1..1024");
        run("train-gan", "--ema", "1", "--out", out.toString()).expectOneLineError(2, "--ema must be in [0, 1)");
        run("train-gan", "--batch", "7000", "--out", out.toString()).expectOneLineError(2, "larger than the 6000 training images");
        run("train-gan", "--data", dir.resolve("missing").toString(), "--out", out.toString()).expectOneLineError(2, "--data");
        run("train-gan", "--steps", "x").expectOneLineError(2, "'x' is not an int");
        assertTrue(!Files.exists(out.resolve("metrics.jsonl")), "a refused run leaves nothing");
    }
}
