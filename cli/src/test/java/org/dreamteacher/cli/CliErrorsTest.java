package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;

import java.nio.file.Files;
import java.nio.file.Path;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.nn.ConfiguredModule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad input ends with one line on standard error and a non-zero exit code: 2 for the command line, 1 for the run. */
class CliErrorsTest {
    @TempDir
    Path dir;

    @Test
    void missingFile() {
        run("sample", "--teacher", dir.resolve("nope.dtt").toString(), "--out", dir.resolve("s.png").toString())
                .expectOneLineError(2, "no such file");
        run("distill", "--teacher", dir.resolve("nope.dtt").toString(), "--out", dir.resolve("d").toString())
                .expectOneLineError(2, "no such file");
    }

    @Test
    void wrongCheckpointKind() throws Exception {
        Path backbone = dir.resolve("backbone.dtt");
        try (ConfiguredModule m = ResNetConfig.small(18, 4, 1, 0).build()) {
            Checkpoints.save(backbone, m);
        }
        run("sample", "--teacher", backbone.toString(), "--n", "1", "--steps", "1", "--out", dir.resolve("s.png").toString())
                .expectOneLineError(1, "holds a 'resnet' model");
        Path text = Files.writeString(dir.resolve("notes.dtt"), "not a checkpoint\n");
        run("sample", "--teacher", text.toString(), "--out", dir.resolve("s.png").toString()).expectOneLineError(1, "notes.dtt");
    }

    @Test
    void debugAddsTheStackTrace() throws Exception {
        Path backbone = dir.resolve("backbone.dtt");
        try (ConfiguredModule m = ResNetConfig.small(18, 4, 1, 0).build()) {
            Checkpoints.save(backbone, m);
        }
        CliRun r = run("--debug", "sample", "--teacher", backbone.toString(), "--out", dir.resolve("s.png").toString());
        org.junit.jupiter.api.Assertions.assertEquals(1, r.exitCode());
        org.junit.jupiter.api.Assertions.assertTrue(r.err().contains("\tat org.dreamteacher.cli."), r.err());
        String last = r.err().strip().lines().reduce((a, b) -> b).orElse("");
        org.junit.jupiter.api.Assertions.assertTrue(last.startsWith("dreamteacher sample: error: "), last);
    }

    @Test
    void badNumbers() {
        run("train-teacher", "--steps", "abc").expectOneLineError(2, "'abc' is not an int");
        run("train-teacher", "--steps", "-3").expectOneLineError(2, "--steps must be > 0");
        run("train-teacher", "--lr", "nan", "--out", dir.toString()).expectOneLineError(2, "--lr");
        run("sample", "--n", "0").expectOneLineError(2, "--n must be > 0");
        run("distill", "--whiten", "sideways").expectOneLineError(2, "--whiten");
        run("distill", "--backbone", "vgg11").expectOneLineError(2, "unknown backbone");
        run("--threads", "0", "info").expectOneLineError(2, "--threads");
    }

    @Test
    void badCommandsAndConfigs() {
        run("frobnicate").expectOneLineError(2, "frobnicate");
        run("train-teacher", "--channel-mult", "1,2,2,2,2", "--steps", "1", "--out", dir.toString())
                .expectOneLineError(2, "imageSize 28");
        run("train-teacher", "--data", dir.resolve("missing").toString(), "--out", dir.toString()).expectOneLineError(2, "--data");
        run("--backend", "quantum", "sample").expectOneLineError(2, "unknown --backend");
    }
}
