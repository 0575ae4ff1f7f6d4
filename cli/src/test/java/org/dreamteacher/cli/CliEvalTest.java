package org.dreamteacher.cli;

import org.dreamteacher.diffusion.ShippedTeacher;
import static org.dreamteacher.cli.CliRun.assertPng;
import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** probe, finetune, segment and the demo on tiny settings. */
class CliEvalTest {
    @TempDir
    static Path dir;
    static Path teacher;
    static Path backbone;

    @BeforeAll
    static void models() throws Exception {
        Progress.setEnabled(false);
        teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
        backbone = dir.resolve("backbone.dtt");
        try (ConfiguredModule m = ResNetConfig.small(18, 4, 1, 0).build()) {
            Checkpoints.save(backbone, m);
        }
    }

    @Test
    void probeARandomBackbone() throws Exception {
        Path out = dir.resolve("probe");
        CliRun r = run("probe", "--random", "resnet18", "--width", "4", "--steps", "2", "--test-images", "50",
                "--out", out.toString()).expectSuccess();
        assertTrue(r.out().contains("random"), r.out());
        assertTrue(r.out().matches("(?s).*1%\\s+\\d+\\.\\d\\d %.*"), r.out());
        assertTrue(Files.isRegularFile(out.resolve("classification.json")));
        assertPng(out.resolve("classification.png"));
    }

    @Test
    void finetuneACheckpointAgainstRandomInit() throws Exception {
        Path out = dir.resolve("finetune");
        CliRun r = run("finetune", "--backbone", backbone.toString(), "--compare-random", "--labels", "1", "--steps", "2", "--batch", "8",
                "--test-images", "50", "--out", out.toString()).expectSuccess();
        assertTrue(r.out().contains("pretrained") && r.out().contains("random"), r.out());
        JsonNode json = new ObjectMapper().readTree(out.resolve("classification.json").toFile());
        assertTrue(json.toString().contains("pretrained"), json.toString());
    }

    @Test
    void segmentScenes() throws Exception {
        Path out = dir.resolve("segment");
        CliRun r = run("segment", "--random", "resnet18", "--width", "4", "--scenes", "4", "--test-scenes", "4", "--steps", "2", "--batch", "2",
                "--scene-size", "32", "--head-channels", "8", "--out", out.toString()).expectSuccess();
        assertTrue(r.out().contains("mIoU"), r.out());
        assertPng(out.resolve("segmentation.png"));
    }

    @Test
    void evaluationErrors() {
        run("probe", "--backbone", teacher.toString(), "--steps", "1").expectOneLineError(1, "not a backbone");
        run("probe", "--backbone", backbone.toString(), "--random", "resnet18").expectOneLineError(2, "not both");
        run("finetune", "--steps", "1").expectOneLineError(2, "--backbone");
        run("finetune", "--random", "resnet18", "--labels", "0").expectOneLineError(2, "--labels");
        run("segment", "--random", "resnet18", "--mode", "sideways").expectOneLineError(2, "--mode");
        run("probe", "--random", "resnet18", "--images", dir.toString()).expectOneLineError(2, "labels");
        run("probe", "--random", "resnet18", "--lr", "0.1").expectOneLineError(2, "full-batch");
        run("finetune", "--random", "resnet18", "--l2", "0.1").expectOneLineError(2, "--l2 is for probe");
    }

    @Test
    void quickDemoWithATinyTeacher() throws Exception {
        Path out = dir.resolve("demo");
        CliRun r = run("demo", "--quick", "--teacher", teacher.toString(), "--out", out.toString()).expectSuccess();
        assertTrue(r.out().contains("Test accuracy with 60 labelled images"), r.out());
        assertTrue(r.out().contains("DreamTeacher") && r.out().contains("random init"), r.out());
        assertTrue(r.out().contains(out.toAbsolutePath().normalize().toString()), r.out());
        for (String png : new String[] {"teacher-samples.png", "pca-features.png", "distill-loss.png", "accuracy.png"}) assertPng(out.resolve(png));
        JsonNode results = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        assertEquals(60, results.get("labelledImages").asInt());
        for (String init : new String[] {"DreamTeacher", "random init"})
            for (String mode : new String[] {"linearProbe", "fineTune"}) {
                double acc = results.get("accuracy").get(init).get(mode).asDouble(-1);
                assertTrue(acc >= 0 && acc <= 1, init + " " + mode + ": " + acc);
            }
        // A second run into the same folder starts afresh instead of refusing the old distillation run.
        run("demo", "--quick", "--teacher", teacher.toString(), "--out", out.toString(), "--distill-steps", "2").expectSuccess();
    }

    @Test
    void demoWithoutATeacherSaysWhatToDo() {
        Assumptions.assumeFalse(ShippedTeacher.isPresent(), "this build ships a teacher");
        run("demo", "--quick", "--out", dir.resolve("demo-none").toString()).expectOneLineError(1, "--train-teacher-steps");
    }
}
