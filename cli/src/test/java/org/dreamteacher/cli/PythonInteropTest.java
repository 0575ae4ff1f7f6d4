package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.ConvNeXtConfig;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.ModelConfig;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.SafeTensors;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backbones exported by {@code dreamteacher export} load strictly into torchvision models with
 * {@code python/dreamteacher_torch.py} and give the Java model's features (within 1e-4 relative), and
 * {@code embed}'s rows are the PyTorch model's pooled features of the same images.
 *
 * <p>Needs a Python 3 with PyTorch and torchvision ({@code DT_PYTHON}, else {@code /usr/bin/python3}, else
 * {@code python3}); without one the test is skipped, unless {@code DT_REQUIRE_PYTHON=1} (as the project's CI sets
 * it) makes that a failure.
 */
class PythonInteropTest {
    private static final Path SCRIPT = Path.of("..", "python", "tests", "check_backbone.py");

    @TempDir
    static Path dir;
    static String python;

    @BeforeAll
    static void findPython() throws Exception {
        Progress.setEnabled(false);
        // Maven runs the tests in the module's folder.
        if (!Files.isRegularFile(SCRIPT)) fail("no " + SCRIPT.toAbsolutePath().normalize());
        List<String> candidates = new ArrayList<>();
        if (System.getenv("DT_PYTHON") != null) candidates.add(System.getenv("DT_PYTHON"));
        candidates.addAll(List.of("/usr/bin/python3", "python3"));
        StringBuilder tried = new StringBuilder();
        for (String c : candidates) {
            try {
                Result r = exec(List.of(c, "-c", "import torch, torchvision, numpy"));
                if (r.code == 0) {
                    python = c;
                    return;
                }
                tried.append(c).append(": ").append(r.output.strip().lines().reduce((a, b) -> b).orElse("exit " + r.code)).append("; ");
            } catch (IOException e) {
                tried.append(c).append(": ").append(e.getMessage()).append("; ");
            }
        }
        String why = "no Python with torch, torchvision and numpy (" + tried + ")";
        if ("1".equals(System.getenv("DT_REQUIRE_PYTHON"))) fail(why);
        Assumptions.abort(why);
    }

    private record Result(int code, String output) {}

    private static Result exec(List<String> command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException(command + " did not finish in 5 minutes");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    private static Result check(Path exported, Path expected, Path embedded) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(python, SCRIPT.toString(), exported.toString(), expected.toString()));
        if (embedded != null) cmd.add(embedded.toString());
        return exec(cmd);
    }

    /**
     * Every floating-point parameter and buffer drawn at random (running variances in [0.5, 1.5]), so that each
     * tensor's place in the PyTorch model matters: ConvNeXt's initial layer scale of 1e-6 would otherwise hide a
     * misplaced block weight.
     */
    private static void randomise(ConfiguredModule m, long seed) {
        torch.manual_seed(seed);
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            StringTensorDict params = m.named_parameters(true), buffers = m.named_buffers(true);
            for (long i = 0; i < params.size(); i++) {
                Tensor p = params.get(i).value();
                p.copy_(torch.randn(p.sizes().vec().get()).mul(new Scalar(0.3)));
            }
            for (long i = 0; i < buffers.size(); i++) {
                Tensor b = buffers.get(i).value();
                if (!b.is_floating_point()) continue;
                Tensor r = torch.rand(b.sizes().vec().get());
                b.copy_(buffers.get(i).key().getString().endsWith("running_var") ? r.add(new Scalar(0.5)) : r.sub(new Scalar(0.5)));
            }
        }
    }

    /** Saves, exports, and writes the input and the Java model's C2..C5 (eval mode) beside them. */
    private static Path[] prepare(String name, ModelConfig config, Tensor x) throws Exception {
        Path dtt = dir.resolve(name + ".dtt"), exported = dir.resolve(name + ".safetensors"), expected = dir.resolve(name + "-expected.safetensors");
        try (ConfiguredModule m = config.build()) {
            randomise(m, name.hashCode());
            m.eval();
            Checkpoints.save(dtt, m);
            try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                Map<String, Tensor> tensors = new LinkedHashMap<>();
                tensors.put("x", x);
                List<FeatureMap> f = ((Backbone) m).features(x);
                for (int i = 0; i < 4; i++) tensors.put("c" + (i + 2), f.get(i).tensor().contiguous());
                SafeTensors.write(expected, Map.of(), tensors);
            }
        }
        Checkpoints.exportSafeTensors(dtt, exported);
        return new Path[] {dtt, exported, expected};
    }

    @Test
    void exportedBackbonesGiveTheJavaFeaturesInPyTorch() throws Exception {
        Map<String, ModelConfig> models = new LinkedHashMap<>();
        models.put("resnet18-small-grey", ResNetConfig.small(18, 8, 1, 10));
        models.put("resnet50-standard-rgb", new ResNetConfig(50, 16, 3, 0, false));
        models.put("convnext-stem1-grey", ConvNeXtConfig.of(List.of(1, 1, 2, 1), List.of(8, 16, 24, 32), 1, 10, 1));
        models.put("convnext-stem4-noscale-rgb", new ConvNeXtConfig(List.of(1, 2, 1, 1), List.of(8, 12, 16, 24), 3, 0, 4, 0.1, 0));
        for (Map.Entry<String, ModelConfig> e : models.entrySet()) {
            int channels = e.getKey().endsWith("grey") ? 1 : 3;
            torch.manual_seed(11);
            try (PointerScope scope = new PointerScope()) {
                Tensor x = torch.randn(2, channels, 32, 32);
                Path[] files = prepare(e.getKey(), e.getValue(), x);
                Result r = check(files[1], files[2], null);
                assertEquals(0, r.code, e.getKey() + ":\n" + r.output);
                assertTrue(r.output.contains("c5: shape") && r.output.strip().endsWith("OK"), r.output);
            }
        }
    }

    /** The comparison can fail: one feature map moved by 1e-3 of its largest magnitude is reported. */
    @Test
    void aWrongFeatureIsReported() throws Exception {
        torch.manual_seed(12);
        try (PointerScope scope = new PointerScope()) {
            Tensor x = torch.randn(2, 1, 32, 32);
            Path[] files = prepare("resnet18-control", ResNetConfig.small(18, 4, 1, 0), x);
            SafeTensors.Contents c = SafeTensors.read(files[2]);
            Map<String, Tensor> moved = new LinkedHashMap<>(c.tensors());
            Tensor c4 = moved.get("c4");
            moved.put("c4", c4.add(c4.abs().max().mul(new Scalar(1e-3))));
            SafeTensors.write(files[2], Map.of(), moved);
            Result r = check(files[1], files[2], null);
            assertEquals(1, r.code, r.output);
            assertTrue(r.output.contains("MISMATCH"), r.output);
        }
    }

    /**
     * The whole path: a backbone distilled by {@code distill} and exported by {@code export} loads into torchvision
     * and gives the Java features, and {@code embed --level all} on 16 test images of the embedded subset equals
     * PyTorch's pooled C2..C5 of the same images.
     */
    @Test
    void aDistilledBackboneExportedAndEmbeddedMatchesPyTorch() throws Exception {
        Path teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
        Path run = dir.resolve("distill");
        run("distill", "--teacher", teacher.toString(), "--steps", "2", "--batch", "4", "--width", "8", "--regressor-channels", "16",
                "--out", run.toString()).expectSuccess();
        Path backbone = run.resolve("backbone.dtt"), exported = dir.resolve("distilled.safetensors");
        run("export", "--model", backbone.toString(), "--out", exported.toString()).expectSuccess();
        Path npy = dir.resolve("embed.npy");
        run("embed", "--model", backbone.toString(), "--data", "embedded", "--split", "test", "--limit", "16", "--batch-size", "5",
                "--level", "all", "--out", npy.toString()).expectSuccess();

        ImageDataset test = FashionMnist.embeddedSubset().test();
        int[] first = new int[16];
        Arrays.setAll(first, i -> i);
        Path expected = dir.resolve("distilled-expected.safetensors");
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard();
                ConfiguredModule m = Checkpoints.load(backbone)) {
            m.eval();
            Tensor x = test.toTensor(first);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("x", x);
            List<FeatureMap> f = ((Backbone) m).features(x);
            for (int i = 0; i < 4; i++) tensors.put("c" + (i + 2), f.get(i).tensor().contiguous());
            SafeTensors.write(expected, Map.of(), tensors);
        }
        Result r = check(exported, expected, npy);
        assertEquals(0, r.code, r.output);
        assertTrue(r.output.contains("embed: shape (16, 120)") && r.output.strip().endsWith("OK"), r.output);
    }
}
