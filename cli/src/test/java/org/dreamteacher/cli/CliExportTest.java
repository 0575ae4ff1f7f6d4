package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.SafeTensors;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** export to safetensors and back, and --init of distill and finetune from an exported file. */
class CliExportTest {
    @TempDir
    static Path dir;
    static Path teacher;
    /** A 1-channel ResNet-18 (width 8, small stem) with a 10-class head, as a checkpoint and exported. */
    static Path backbone;
    static Path exported;

    @BeforeAll
    static void models() throws Exception {
        Progress.setEnabled(false);
        teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
        backbone = dir.resolve("backbone.dtt");
        torch.manual_seed(5);
        try (ConfiguredModule m = ResNetConfig.small(18, 8, 1, 10).build()) {
            Checkpoints.save(backbone, m);
        }
        exported = dir.resolve("backbone.safetensors");
        CliRun r = run("export", "--model", backbone.toString(), "--out", exported.toString()).expectSuccess();
        assertTrue(r.out().contains("resnet model, 122 tensors"), r.out());
    }

    @Test
    void exportWritesStateDictNamesAndConvertsBack() throws Exception {
        SafeTensors.Contents c = SafeTensors.read(exported);
        assertEquals("pt", c.metadata().get("format"));
        assertEquals("resnet", c.metadata().get("dreamteacher.kind"));
        JsonNode config = new ObjectMapper().readTree(c.metadata().get("dreamteacher.config"));
        assertEquals(8, config.get("width").asInt());
        assertTrue(c.tensors().containsKey("layer1.0.bn1.running_var") && c.tensors().containsKey("fc.weight")
                && c.tensors().containsKey("layer1.0.bn1.num_batches_tracked"), c.tensors().keySet().toString());

        Path back = dir.resolve("back.dtt");
        CliRun r = run("export", "--model", exported.toString(), "--format", "dtt", "--out", back.toString()).expectSuccess();
        assertTrue(r.out().contains("-> " + back), r.out());
        Map<String, Tensor> a = TensorFile.read(backbone).tensors(), b = TensorFile.read(back).tensors();
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertTrue(a.get(k).equal(b.get(k)), k);
        try (ResNet m = Checkpoints.load(back, ResNet.class)) {
            assertEquals(ResNetConfig.small(18, 8, 1, 10), m.config());
        }
        // the teacher is a model checkpoint too
        Path t = dir.resolve("teacher.safetensors");
        assertTrue(run("export", "--model", teacher.toString(), "--out", t.toString()).expectSuccess().out().contains("diffusion model"));
    }

    @Test
    void exportErrors() throws Exception {
        Path plain = dir.resolve("plain.safetensors");
        try (PointerScope scope = new PointerScope()) {
            SafeTensors.write(plain, Map.of("format", "pt"), Map.of("conv1.weight", torch.zeros(2, 1, 3, 3)));
        }
        run("export", "--model", plain.toString(), "--format", "dtt", "--out", dir.resolve("p.dtt").toString())
                .expectOneLineError(1, "has no dreamteacher.kind metadata");
        run("export", "--model", exported.toString(), "--out", dir.resolve("x.safetensors").toString()).expectOneLineError(2, "--format dtt");
        run("export", "--model", backbone.toString(), "--format", "dtt", "--out", dir.resolve("x.dtt").toString())
                .expectOneLineError(2, "already is a checkpoint");
        run("export", "--model", backbone.toString(), "--out", dir.resolve("x.dtt").toString()).expectOneLineError(2, "give --format dtt");
        run("export", "--model", backbone.toString(), "--format", "onnx", "--out", dir.resolve("x.onnx").toString())
                .expectOneLineError(2, "--format must be safetensors or dtt");
        run("export", "--model", dir.resolve("missing.dtt").toString(), "--out", dir.resolve("y.safetensors").toString())
                .expectOneLineError(2, "no such file");
        run("export", "--model", backbone.toString()).expectOneLineError(2, "--out");
        assertFalse(Files.exists(dir.resolve("x.safetensors")) || Files.exists(dir.resolve("x.dtt")) || Files.exists(dir.resolve("p.dtt")));
    }

    @Test
    void finetuneStartsFromOutsideWeights() throws Exception {
        Path out = dir.resolve("finetune-init");
        CliRun r = run("finetune", "--random", "resnet18", "--width", "8", "--init", exported.toString(), "--compare-random", "--steps", "2",
                "--batch", "8", "--test-images", "50", "--out", out.toString()).expectSuccess();
        assertTrue(r.out().contains("initialised from " + exported), r.out());
        assertTrue(r.out().contains("init: loaded 120 tensors from " + exported + "; this backbone is built without a classification head"),
                r.out());
        JsonNode json = new ObjectMapper().readTree(out.resolve("classification.json").toFile());
        assertEquals(exported.toString(), json.path("inits").path(0).path("init").asText());
        assertEquals("random", json.path("inits").path(1).path("name").asText());
    }

    @Test
    void initRefusesAFileThatDoesNotFitListingEveryProblem() throws Exception {
        Path broken = dir.resolve("broken.safetensors");
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> t = new LinkedHashMap<>(SafeTensors.read(exported).tensors());
            t.remove("layer2.0.conv1.weight");
            t.put("conv1.weight", torch.zeros(8, 3, 3, 3));
            SafeTensors.write(broken, null, t);
        }
        String expected = "1 missing [layer2.0.conv1.weight [16, 8, 3, 3]]; 1 mis-shaped [conv1.weight: expected [8, 1, 3, 3], file [8, 3, 3, 3]]";
        run("finetune", "--random", "resnet18", "--width", "8", "--init", broken.toString(), "--steps", "1", "--test-images", "20")
                .expectOneLineError(1, expected);
        run("distill", "--teacher", teacher.toString(), "--init", broken.toString(), "--steps", "1", "--batch", "4", "--width", "8",
                "--out", dir.resolve("distill-broken").toString()).expectOneLineError(1, expected);
        assertFalse(Files.exists(dir.resolve("distill-broken").resolve("backbone.dtt")));
        run("finetune", "--random", "resnet18", "--width", "16", "--init", exported.toString(), "--steps", "1")
                .expectOneLineError(1, "mis-shaped [conv1.weight: expected [16, 1, 3, 3], file [8, 1, 3, 3]");
        run("finetune", "--backbone", backbone.toString(), "--init", exported.toString()).expectOneLineError(2, "--init FILE needs --random NAME");
        run("finetune", "--random", "resnet18", "--init", dir.resolve("none.safetensors").toString()).expectOneLineError(2, "no such file");
        run("distill", "--teacher", teacher.toString(), "--init", dir.resolve("none.safetensors").toString()).expectOneLineError(2, "no such file");
    }

    /** The distilled backbone starts from the file: with a negligible learning rate its convolutions stay the file's. */
    @Test
    void distillStartsFromOutsideWeightsAndResumeNeedsTheSameFile() throws Exception {
        Path out = dir.resolve("distill-init");
        String[] common = {"distill", "--teacher", teacher.toString(), "--batch", "4", "--width", "8", "--regressor-channels", "16",
            "--lr", "1e-12", "--checkpoint-every", "1", "--out", out.toString()};
        CliRun r = run(CliCommandsTest.concat(common, "--init", exported.toString(), "--steps", "2")).expectSuccess();
        assertTrue(r.out().contains("init: loaded 120 tensors from " + exported), r.out());
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> file = SafeTensors.read(exported).tensors();
            Map<String, Tensor> distilled = TensorFile.read(out.resolve("backbone.dtt")).tensors();
            for (String name : new String[] {"conv1.weight", "layer3.1.conv2.weight", "layer4.0.downsample.0.weight"}) {
                Tensor w = distilled.get("model/" + name);
                assertTrue(w.allclose(file.get(name), 0, 1e-6, false), name + " is the file's");
            }
        }
        run(CliCommandsTest.concat(common, "--steps", "3", "--resume")).expectOneLineError(1, "init");
        CliRun resumed = run(CliCommandsTest.concat(common, "--init", exported.toString(), "--steps", "3", "--resume")).expectSuccess();
        assertTrue(resumed.out().contains("distilled 1 steps"), resumed.out());
    }
}
