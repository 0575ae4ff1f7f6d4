package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.Splits;
import org.dreamteacher.eval.Classifier;
import org.dreamteacher.eval.FrechetDistance;
import org.dreamteacher.gan.GanConfig;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dreamteacher gan-quality} with an untrained generator and a classifier fine-tuned for a few steps by
 * {@code finetune --save-model}: it runs, writes quality.json, separates real from generated images far better
 * than it separates two halves of the real images, and reports bad input in one line.
 */
class CliGanQualityTest {
    @TempDir
    static Path dir;
    static Path generator, classifier;

    @BeforeAll
    static void models() throws Exception {
        Progress.setEnabled(false);
        TorchRuntime.init();
        torch.manual_seed(5);
        generator = dir.resolve("generator.dtt");
        try (ConfiguredModule g = GanConfig.of(1, 28, 8).build()) {
            Checkpoints.save(generator, g);
        }
        classifier = dir.resolve("models/classifier.dtt");
        CliRun r = run("finetune", "--random", "resnet18", "--width", "16", "--labels", "10", "--steps", "20", "--batch", "32",
                "--test-images", "50", "--out", dir.resolve("finetune").toString(), "--save-model", classifier.toString()).expectSuccess();
        assertTrue(r.out().contains("fine-tuned model: " + classifier), r.out());
        double reported = new ObjectMapper().readTree(dir.resolve("finetune/classification.json").toFile()).path("runs").get(0).get("value").asDouble();
        try (ConfiguredModule c = Checkpoints.load(classifier)) {
            assertEquals(10, ((Backbone) c).numClasses(), "the saved model keeps its fine-tuned head");
            // The saved weights are the ones that were scored: the same accuracy on the same test images.
            ImageDataset test = Classifier.testSubset(FashionMnist.embeddedSubset().test(), 50);
            assertEquals(reported, Classifier.accuracy(c, test, 50), 1e-12);
            assertTrue(reported > 0.2, "20 steps learn something: accuracy " + reported);
        }
    }

    @Test
    void help() {
        String h = run("gan-quality", "--help").expectSuccess().out();
        for (String o : List.of("--generator", "--classifier", "--data", "--n", "--seed", "--batch", "--out"))
            assertTrue(h.contains(o), o + " missing from:\n" + h);
        assertTrue(h.contains("NOT the Inception FID"), h);
        assertTrue(run("--help").expectSuccess().out().contains("gan-quality"));
        assertTrue(run("finetune", "--help").expectSuccess().out().contains("--save-model"));
    }

    /**
     * Real against real (two disjoint halves of 200 training images) against real against 200 images of the
     * untrained generator. Measured with this classifier (20 fine-tuning steps of a width-16 ResNet-18, 128
     * features): real/real FD 0.54; generated FD 21.7 (means 12.8, covariances 9.0), precision 0.585, recall 0.
     */
    @Test
    void untrainedGeneratorIsFarFromTheRealImages() throws Exception {
        Path out = dir.resolve("quality");
        CliRun r = run("gan-quality", "--generator", generator.toString(), "--classifier", classifier.toString(), "--n", "200", "--batch",
                "50", "--seed", "3", "--out", out.toString()).expectSuccess();
        assertTrue(r.out().contains("FD ") && r.out().contains("not the Inception FID"), r.out());
        JsonNode json = new ObjectMapper().readTree(out.resolve("quality.json").toFile());
        double fd = json.get("fd").asDouble();
        assertTrue(Double.isFinite(fd) && fd >= 0, "FD " + fd);
        assertEquals(200, json.get("n").asInt());
        assertEquals(3, json.get("seed").asLong());
        assertTrue(json.get("command").asText().startsWith("dreamteacher ") && json.get("command").asText().contains(" gan-quality --generator "),
                json.toString());
        assertTrue(json.get("generator").asText().endsWith("generator.dtt") && json.get("classifier").asText().endsWith("classifier.dtt"));
        double precision = json.get("precision").asDouble(), recall = json.get("recall").asDouble();
        assertTrue(precision >= 0 && precision <= 1 && recall >= 0 && recall <= 1, json.toString());

        // The same seed gives the same images and the same number.
        Path again = dir.resolve("quality-again");
        run("gan-quality", "--generator", generator.toString(), "--classifier", classifier.toString(), "--n", "200", "--batch", "50",
                "--seed", "3", "--out", again.toString()).expectSuccess();
        assertEquals(fd, new ObjectMapper().readTree(again.resolve("quality.json").toFile()).get("fd").asDouble(), 1e-9 * Math.max(1, fd));

        double realReal;
        ImageDataset train = FashionMnist.embeddedSubset().train();
        int[] order = Splits.shuffled(train.size(), 11);
        int[] a = Arrays.copyOfRange(order, 0, 200), b = Arrays.copyOfRange(order, 200, 400);
        try (ConfiguredModule c = Checkpoints.load(classifier); PointerScope scope = new PointerScope()) {
            Tensor fa = Classifier.pooledFeatures(c, train, a, 50, "a"), fb = Classifier.pooledFeatures(c, train, b, 50, "b");
            realReal = FrechetDistance.between(fa, fb).distance();
        }
        assertTrue(realReal >= 0 && realReal * 10 < fd, "real/real FD " + realReal + " should be far below the untrained generator's " + fd);
    }

    @Test
    void badInputGivesOneLineErrors() throws Exception {
        String g = generator.toString(), c = classifier.toString();
        run("gan-quality", "--classifier", c).expectOneLineError(2, "--generator");
        run("gan-quality", "--generator", dir.resolve("missing.dtt").toString(), "--classifier", c).expectOneLineError(2, "no such file");
        run("gan-quality", "--generator", g, "--classifier", c, "--n", "2").expectOneLineError(2, "--n must be at least 4");
        run("gan-quality", "--generator", g, "--classifier", c, "--n", "100000").expectOneLineError(2, "training images");
        run("gan-quality", "--generator", g, "--classifier", c, "--batch", "0").expectOneLineError(2, "--batch");
        run("gan-quality", "--generator", c, "--classifier", c, "--n", "8").expectOneLineError(1, "not a GanGenerator");
        run("gan-quality", "--generator", g, "--classifier", g, "--n", "8").expectOneLineError(2, "not a backbone");
        Path headless = dir.resolve("headless.dtt");
        try (ConfiguredModule m = ResNetConfig.small(18, 16, 1, 0).build()) {
            Checkpoints.save(headless, m);
        }
        run("gan-quality", "--generator", g, "--classifier", headless.toString(), "--n", "8").expectOneLineError(2, "no classification head");
        Path notCheckpoint = dir.resolve("text.dtt");
        Files.writeString(notCheckpoint, "not a checkpoint");
        run("gan-quality", "--generator", notCheckpoint.toString(), "--classifier", c, "--n", "8").expectOneLineError(1, "text.dtt");
        run("finetune", "--random", "resnet18", "--labels", "1,10", "--save-model", dir.resolve("x.dtt").toString())
                .expectOneLineError(2, "--save-model");
    }
}
