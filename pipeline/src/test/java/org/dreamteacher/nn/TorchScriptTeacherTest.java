package org.dreamteacher.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.QualifiedName;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TorchScript teachers made by the test itself: a module is defined from TorchScript source with libtorch's
 * jit compiler, saved, loaded back through {@link TorchScriptTeacher}, and its features compared with the
 * same computation written with libtorch ops in Java.
 */
class TorchScriptTeacherTest {
    @TempDir
    Path dir;

    private static Tensor w1, w2;

    @BeforeAll
    static void weights() {
        TorchRuntime.init();
        torch.manual_seed(7);
        w1 = torch.randn(8, 1, 3, 3);
        w2 = torch.randn(16, 8, 3, 3);
    }

    /** Saves a module whose forward(x, t) returns {@code returnExpr} over the stride-1 map h and stride-2 map g. */
    private Path module(String returnType, String returnExpr) {
        JitModule m = new JitModule(new QualifiedName("TinyTeacher"));
        m.register_parameter("w1", w1, false);
        m.register_parameter("w2", w2, false);
        m.define("def forward(self, x, t) -> " + returnType + ":\n"
                + "    h = torch.relu(torch.conv2d(x, self.w1, None, 1, 1)) + t.view(-1, 1, 1, 1).float() / 1000.0\n"
                + "    g = torch.relu(torch.conv2d(h, self.w2, None, 2, 1))\n"
                + "    return " + returnExpr + "\n");
        Path file = dir.resolve(returnType.replaceAll("[^a-zA-Z]", "") + ".pt");
        m.save(file.toString());
        m.close();
        return file;
    }

    private static Tensor[] expected(Tensor x, Tensor t) {
        Tensor h = torch.relu(torch.conv2d(x, w1, new org.bytedeco.pytorch.TensorOptional(), new long[] {1}, new long[] {1}, new long[] {1}, 1))
                .add(t.view(-1, 1, 1, 1).to(ScalarType.Float).div(new Scalar(1000.0)));
        Tensor g = torch.relu(torch.conv2d(h, w2, new org.bytedeco.pytorch.TensorOptional(), new long[] {2}, new long[] {1}, new long[] {1}, 1));
        return new Tensor[] {h, g};
    }

    private static Tensor input() {
        torch.manual_seed(3);
        return torch.randn(2, 1, 12, 12);
    }

    private static Tensor steps() {
        return torch.tensor(150L, 50L).to(ScalarType.Long);
    }

    @Test
    void listOutputsAreOrderedLargestStrideFirst() {
        Tensor x = input(), t = steps();
        try (TorchScriptTeacher teacher = TorchScriptTeacher.load(module("List[Tensor]", "[h, g]"), 1)) {
            List<FeatureMap> maps = teacher.features(x, t);
            Tensor[] want = expected(x, t);
            assertEquals(2, maps.size());
            assertEquals("f1", maps.get(0).name());
            assertEquals(2, maps.get(0).stride());
            assertEquals(16, maps.get(0).channels());
            assertEquals("f0", maps.get(1).name());
            assertEquals(1, maps.get(1).stride());
            assertTrue(maps.get(0).tensor().allclose(want[1], 1e-5, 1e-6, false));
            assertTrue(maps.get(1).tensor().allclose(want[0], 1e-5, 1e-6, false));
            assertEquals(1, teacher.inChannels());
        }
    }

    @Test
    void dictAndTupleOutputs() {
        Tensor x = input(), t = steps();
        Tensor[] want = expected(x, t);
        try (TorchScriptTeacher dict = TorchScriptTeacher.load(module("Dict[str, Tensor]", "{'fine': h, 'coarse': g}"), 1);
                TorchScriptTeacher tuple = TorchScriptTeacher.load(module("Tuple[Tensor, Tensor]", "(g, h)"), 1)) {
            List<FeatureMap> d = dict.features(x, t);
            assertEquals(List.of("coarse", "fine"), d.stream().map(FeatureMap::name).toList());
            assertTrue(d.get(0).tensor().allclose(want[1], 1e-5, 1e-6, false));
            List<FeatureMap> tp = tuple.features(x, t);
            assertArrayEquals(new int[] {2, 1}, tp.stream().mapToInt(FeatureMap::stride).toArray());
            assertTrue(tp.get(1).tensor().allclose(want[0], 1e-5, 1e-6, false));
        }
    }

    @Test
    void timestepReachesTheModule() {
        Tensor x = input();
        try (TorchScriptTeacher teacher = TorchScriptTeacher.load(module("List[Tensor]", "[h]"), 1)) {
            Tensor a = teacher.features(x, torch.tensor(0L, 0L)).get(0).tensor();
            Tensor b = teacher.features(x, torch.tensor(500L, 500L)).get(0).tensor();
            assertEquals(0.5, b.sub(a).mean().item_double(), 1e-5);
        }
    }

    /** The diffusion encoder noises the images with the schedule and runs a TorchScript teacher once. */
    @Test
    void encodeRunsATorchScriptTeacherOnNoisedImages() {
        Tensor x = input();
        try (TorchScriptTeacher teacher = TorchScriptTeacher.load(module("List[Tensor]", "[h, g]"), 1)) {
            NoiseSchedule schedule = NoiseSchedule.linear(1000);
            List<FeatureMap> maps = GaussianDiffusion.encode(teacher, schedule, x, 150, new Noise(5));
            Tensor eps = new Noise(5).normalLike(x);
            Tensor xt = x.mul(new Scalar(schedule.sqrtAlphaBar(150))).add(eps.mul(new Scalar(schedule.sqrtOneMinusAlphaBar(150))));
            Tensor[] want = expected(xt, torch.tensor(150L, 150L));
            assertTrue(maps.get(0).tensor().allclose(want[1], 1e-4, 1e-5, false));
            assertTrue(maps.get(1).tensor().allclose(want[0], 1e-4, 1e-5, false));
        }
    }

    @Test
    void badFilesAndOutputsGiveClearErrors() throws IOException {
        Path missing = dir.resolve("nope.pt");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TorchScriptTeacher.load(missing, 1));
        assertTrue(e.getMessage().contains("nope.pt"), e.getMessage());

        Path garbage = Files.write(dir.resolve("garbage.pt"), new byte[] {1, 2, 3, 4, 5});
        e = assertThrows(IllegalArgumentException.class, () -> TorchScriptTeacher.load(garbage, 1));
        assertTrue(e.getMessage().contains("garbage.pt") && e.getMessage().contains("TorchScript"), e.getMessage());

        try (TorchScriptTeacher flat = TorchScriptTeacher.load(module("Tensor", "h.sum(1)"), 1)) {
            e = assertThrows(IllegalArgumentException.class, () -> flat.features(input(), steps()));
            assertTrue(e.getMessage().contains("(N, C, H, W)"), e.getMessage());
        }
        try (TorchScriptTeacher teacher = TorchScriptTeacher.load(module("List[Tensor]", "[h, g]"), 1)) {
            Tensor odd = torch.randn(2, 1, 13, 13); // 13 -> 7 is no integer stride
            e = assertThrows(IllegalArgumentException.class, () -> teacher.features(odd, steps()));
            assertTrue(e.getMessage().contains("stride"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> teacher.features(torch.randn(2, 3, 12, 12), steps()));
            assertTrue(e.getMessage().contains("(N, 1, H, W)"), e.getMessage());
        }
    }

}
