package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.QualifiedName;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.LatentTeacherModules;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.nn.TeacherInput;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code distill} and {@code encode} with a latent TorchScript teacher ({@code --torchscript-input clean}) that
 * the test writes itself ({@link LatentTeacherModules}): it encodes 28x28 images into a 4x14x14 latent, noises
 * it with its own 50-step table and returns taps at strides 4 and 2.
 */
class CliTorchScriptTest {
    @TempDir
    static Path dir;
    static Path latent, pictures;

    @BeforeAll
    static void setUp() throws IOException {
        Progress.setEnabled(false);
        TorchRuntime.init();
        latent = dir.resolve("latent.pt");
        // Its forward's noise is optional, so that it also runs under the noised contract and only the recorded contract tells runs apart.
        JitModule m = LatentTeacherModules.latentTeacher(true);
        m.save(latent.toString());
        m.close();
        pictures = CliEncodeTest.writePictures(dir.resolve("pictures"), 12);
    }

    /** The state.json of the newest checkpoint of a run folder. */
    private static JsonNode lastState(Path run) throws IOException {
        try (Stream<Path> steps = Files.list(run.resolve("checkpoints"))) {
            Path last = steps.filter(p -> p.getFileName().toString().startsWith("step-")).sorted().reduce((x, y) -> y).orElseThrow();
            return new ObjectMapper().readTree(last.resolve("state.json").toFile());
        }
    }

    private static String[] distillArgs(Path out, String input, String... more) {
        return CliCommandsTest.concat(new String[] {"distill", "--torchscript", latent.toString(), "--torchscript-input", input, "--timesteps", "50",
            "--timestep", "20", "--batch", "4", "--width", "8", "--regressor-channels", "16", "--out", out.toString()}, more);
    }

    @Test
    void distillWithALatentTeacherWritesABackboneAndKeepsItsContract() throws Exception {
        Path out = dir.resolve("distill");
        CliRun r = run(distillArgs(out, "clean", "--steps", "2")).expectSuccess();
        assertTrue(r.out().contains("(clean input: it noises its own latents, T = 50, t = 20)"), r.out());
        assertTrue(r.out().contains("up (8 ch, stride 2)") && r.out().contains("mid (16 ch, stride 4)"), r.out());
        assertTrue(r.out().contains("distilled 2 steps"), r.out());
        assertTrue(Checkpoints.load(out.resolve("backbone.dtt")) instanceof ResNet);
        CliRun.assertPng(out.resolve("pca-features.png"));
        assertEquals("clean", lastState(out).path("teacherInput").asText());

        // The same file under the other contract is another teacher: the run does not continue with it.
        run(distillArgs(out, "noised", "--steps", "3", "--resume")).expectOneLineError(1, "teacherInput clean (now unset)");
        run(distillArgs(out, "clean", "--steps", "3", "--resume")).expectSuccess();
    }

    @Test
    void encodeWithALatentTeacherAndDistillFromTheStore() throws Exception {
        Path store = dir.resolve("store");
        String[] encode = {"encode", "--torchscript", latent.toString(), "--torchscript-input", "clean", "--timesteps", "50", "--timestep", "20",
            "--images", pictures.toString(), "--size", "28", "--chunk-size", "8", "--batch", "4", "--precision", "float32", "--out", store.toString()};
        CliRun r = run(encode).expectSuccess();
        assertTrue(r.out().contains("(clean input)") && r.out().contains("encoded 2 chunks"), r.out());
        try (FeatureStore s = FeatureStore.open(store)) {
            assertEquals(TeacherInput.CLEAN, s.manifest().teacherInput());
            assertEquals(12, s.size());
        }
        String[] noised = encode.clone();
        noised[4] = "noised";
        run(CliCommandsTest.concat(noised, "--resume")).expectOneLineError(1, "teacher.input");

        Path out = dir.resolve("from-store");
        run("distill", "--features", store.toString(), "--images", pictures.toString(), "--size", "28", "--steps", "2", "--batch", "4",
                "--width", "8", "--regressor-channels", "16", "--out", out.toString()).expectSuccess();
        assertTrue(Files.isRegularFile(out.resolve("backbone.dtt")));
        assertEquals("clean", lastState(out).path("teacherInput").asText());
    }

    @Test
    void badTorchScriptInputsAreUsageErrors() throws IOException {
        Path out = dir.resolve("bad");
        run(distillArgs(out, "latent", "--steps", "1")).expectOneLineError(2, "--torchscript-input must be noised or clean, got 'latent'");
        run(distillArgs(out, "clean", "--steps", "1", "--schedule", "cosine")).expectOneLineError(2, "--schedule does not apply");
        run("distill", "--torchscript-input", "clean", "--steps", "1", "--out", out.toString())
                .expectOneLineError(2, "--torchscript-input applies to a --torchscript teacher only");

        JitModule plain = new JitModule(new QualifiedName("Plain"));
        plain.define("def forward(self, x0: Tensor, t: Tensor, noise: Tensor) -> List[Tensor]:\n    return [x0]\n");
        Path file = dir.resolve("plain.pt");
        plain.save(file.toString());
        plain.close();
        run("encode", "--torchscript", file.toString(), "--torchscript-input", "clean", "--images", pictures.toString(), "--size", "28",
                "--out", dir.resolve("bad-store").toString()).expectOneLineError(1, "needs a method noise_shape(self, x0: Tensor) -> List[int]");
    }
}
