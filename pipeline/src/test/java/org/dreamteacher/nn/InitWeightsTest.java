package org.dreamteacher.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.SafeTensors;
import org.dreamteacher.torch.TensorFileException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backbones start from a torchvision-style state dict: names and shapes of torchvision's ResNet-50 (listed by
 * src/test/python/torchvision_state.py), the 1000-class head skipped, and every problem of a wrong file listed.
 */
class InitWeightsTest {
    static {
        NnTests.init();
    }

    @TempDir
    static Path dir;

    /** A state dict laid out as torchvision's ResNet-50 with 1000 classes, with BatchNorm statistics that moved. */
    static Path torchvisionFile;
    static Map<String, Tensor> torchvisionState;

    @BeforeAll
    static void writeTorchvisionStyleFile() throws IOException {
        torchvisionFile = dir.resolve("resnet50-torchvision.safetensors");
        torchvisionState = new LinkedHashMap<>();
        torch.manual_seed(42);
        try (ResNet net = ResNetConfig.standard(50, 3, 1000).build(); PointerScope scope = new PointerScope()) {
            net.train(true);
            try (NoGradGuard ng = new NoGradGuard()) {
                net.features(torch.randn(2, 3, 64, 64));
            }
            for (Map.Entry<String, Tensor> e : Checkpoints.state(net).entrySet()) {
                Tensor copy = e.getValue().detach().clone();
                copy.retainReference();
                torchvisionState.put(e.getKey(), copy);
            }
        }
        SafeTensors.write(torchvisionFile, Map.of("format", "pt"), torchvisionState);
    }

    /** The standard-stem ResNet-50 has exactly torchvision's state dict: the same names, shapes and dtypes. */
    @Test
    void standardResNet50HasTorchvisionsStateDict() throws IOException {
        Map<String, String> torchvision = new TreeMap<>();
        try (InputStream in = InitWeightsTest.class.getResourceAsStream("torchvision-resnet50-state.txt")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank()) continue;
                String[] f = line.split(" ");
                torchvision.put(f[0], f[1] + " " + f[2]);
            }
        }
        Map<String, String> ours = new TreeMap<>();
        for (Map.Entry<String, Tensor> e : torchvisionState.entrySet()) {
            long[] shape = e.getValue().sizes().vec().get();
            String s = shape.length == 0 ? "scalar" : String.join("x", Arrays.stream(shape).mapToObj(Long::toString).toList());
            ours.put(e.getKey(), SafeTensors.DType.of(e.getValue()) + " " + s);
        }
        assertEquals(320, torchvision.size());
        assertEquals(torchvision, ours);
    }

    @Test
    void torchvisionResNet50LoadsIntoAHeadlessStandardResNet50() throws IOException {
        try (ResNet net = ResNetConfig.standard(50, 3, 0).build(); PointerScope scope = new PointerScope()) {
            InitWeights.Report r = InitWeights.load(torchvisionFile, net);
            assertEquals(318, r.loaded());
            assertEquals(List.of("fc.weight", "fc.bias"), r.skippedHead());
            assertTrue(r.headNote().contains("without a classification head") && r.headNote().contains("fc.weight [1000, 2048]"), r.headNote());
            assertTrue(r.describe().contains("loaded 318 tensors from " + torchvisionFile), r.describe());
            Map<String, Tensor> state = Checkpoints.state(net);
            for (String name : List.of("conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "layer3.5.conv2.weight",
                    "layer4.0.downsample.1.running_var", "layer4.2.bn3.bias"))
                assertTrue(state.get(name).equal(torchvisionState.get(name)), name);
            assertEquals(1, state.get("bn1.num_batches_tracked").item_long());
        }
    }

    @Test
    void aHeadOfAnotherSizeIsSkippedAndAFittingOneLoaded() throws IOException {
        try (ResNet net = ResNetConfig.standard(50, 3, 10).build(); PointerScope scope = new PointerScope()) {
            Tensor before = net.headParameters().get(0).clone();
            InitWeights.Report r = InitWeights.load(torchvisionFile, net);
            assertEquals(List.of("fc.weight", "fc.bias"), r.skippedHead());
            assertTrue(r.headNote().contains("does not fit") && r.headNote().contains("[10, 2048]"), r.headNote());
            assertTrue(net.headParameters().get(0).equal(before), "the head keeps its initial weights");
            assertTrue(Checkpoints.state(net).get("conv1.weight").equal(torchvisionState.get("conv1.weight")));
        }
        try (ResNet net = ResNetConfig.standard(50, 3, 1000).build(); PointerScope scope = new PointerScope()) {
            InitWeights.Report r = InitWeights.load(torchvisionFile, net);
            assertEquals(320, r.loaded());
            assertTrue(r.skippedHead().isEmpty());
            assertNull(r.headNote());
            assertTrue(Checkpoints.state(net).get("fc.weight").equal(torchvisionState.get("fc.weight")), "a fitting head is loaded");
        }
    }

    @Test
    void missingUnexpectedAndMisShapedTensorsAreAllListed() throws IOException {
        Map<String, Tensor> broken = new LinkedHashMap<>(torchvisionState);
        broken.remove("layer2.1.conv2.weight");
        broken.remove("layer3.0.bn1.running_mean");
        broken.put("layer1.0.conv1.weight", torch.zeros(64, 64, 3, 3));
        broken.put("conv1.weight", torch.zeros(64, 1, 7, 7));
        broken.put("layer5.0.conv1.weight", torch.zeros(2, 2));
        Path file = dir.resolve("broken.safetensors");
        SafeTensors.write(file, null, broken);
        try (ResNet net = ResNetConfig.standard(50, 3, 0).build(); PointerScope scope = new PointerScope()) {
            Tensor before = Checkpoints.state(net).get("layer4.2.conv3.weight").clone();
            TensorFileException e = assertThrows(TensorFileException.class, () -> InitWeights.load(file, net));
            String m = e.getMessage();
            assertTrue(m.startsWith(file.toString()), m);
            for (String part : List.of("2 missing [layer2.1.conv2.weight [128, 128, 3, 3], layer3.0.bn1.running_mean [256]]",
                    "1 unexpected [layer5.0.conv1.weight [2, 2]]",
                    "2 mis-shaped [conv1.weight: expected [64, 3, 7, 7], file [64, 1, 7, 7], layer1.0.conv1.weight: expected [64, 64, 1, 1], file [64, 64, 3, 3]]"))
                assertTrue(m.contains(part), part + " not in " + m);
            assertFalse(m.contains("fc.weight"), "the head is not a problem: " + m);
            assertFalse(m.contains("\n"), "one line");
            assertTrue(Checkpoints.state(net).get("layer4.2.conv3.weight").equal(before), "nothing is copied from a refused file");
        }
    }

    @Test
    void smallStemRefusesTheStandardStem() throws IOException {
        try (ResNet net = ResNetConfig.small(50, 64, 3, 0).build()) {
            TensorFileException e = assertThrows(TensorFileException.class, () -> InitWeights.load(torchvisionFile, net));
            assertTrue(e.getMessage().contains("conv1.weight: expected [64, 3, 3, 3], file [64, 3, 7, 7]"), e.getMessage());
        }
    }

    /** Older state dicts lack num_batches_tracked; half-precision weights are converted; a .dtt checkpoint works too. */
    @Test
    void oldStateDictsHalfPrecisionAndCheckpoints() throws IOException {
        Map<String, Tensor> source;
        Path ckpt = dir.resolve("small.dtt");
        try (ConfiguredModule m = ConvNeXtConfig.of(List.of(1, 1, 1, 1), List.of(4, 8, 8, 8), 3, 7, 1).build(); PointerScope scope = new PointerScope()) {
            Checkpoints.save(ckpt, m);
            source = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : Checkpoints.state(m).entrySet()) {
                Tensor c = e.getValue().detach().clone();
                c.retainReference();
                source.put(e.getKey(), c);
            }
        }
        Map<String, Tensor> half = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : source.entrySet()) half.put(e.getKey(), e.getValue().to(ScalarType.Half));
        Path f16 = dir.resolve("half.safetensors");
        SafeTensors.write(f16, null, half);
        try (ConfiguredModule m = ConvNeXtConfig.of(List.of(1, 1, 1, 1), List.of(4, 8, 8, 8), 3, 0, 1).build(); PointerScope scope = new PointerScope()) {
            InitWeights.Report r = InitWeights.load(f16, m);
            assertEquals(List.of("norm.weight", "norm.bias", "head.weight", "head.bias"), r.skippedHead());
            assertEquals(r.loaded(), r.converted().size());
            assertTrue(r.converted().get(0).endsWith("F16 -> F32"), r.converted().get(0));
            Tensor w = Checkpoints.state(m).get("stages.1.0.pwconv1.weight");
            assertEquals(ScalarType.Float, w.scalar_type().intern());
            assertTrue(w.equal(half.get("stages.1.0.pwconv1.weight").to(ScalarType.Float)));
        }
        try (ConfiguredModule m = ConvNeXtConfig.of(List.of(1, 1, 1, 1), List.of(4, 8, 8, 8), 3, 7, 1).build(); PointerScope scope = new PointerScope()) {
            InitWeights.Report r = InitWeights.load(ckpt, m);
            assertNull(r.headNote());
            for (Map.Entry<String, Tensor> e : Checkpoints.state(m).entrySet()) assertTrue(e.getValue().equal(source.get(e.getKey())), e.getKey());
        }

        Map<String, Tensor> old = new LinkedHashMap<>(torchvisionState);
        old.keySet().removeIf(n -> n.endsWith("num_batches_tracked"));
        Path oldFile = dir.resolve("old.safetensors");
        SafeTensors.write(oldFile, null, old);
        try (ResNet net = ResNetConfig.standard(50, 3, 0).build(); PointerScope scope = new PointerScope()) {
            InitWeights.Report r = InitWeights.load(oldFile, net);
            assertEquals(53, r.keptBuffers().size());
            assertEquals(0, Checkpoints.state(net).get("bn1.num_batches_tracked").item_long());
            assertTrue(Checkpoints.state(net).get("bn1.running_var").equal(torchvisionState.get("bn1.running_var")));
        }

        Map<String, Tensor> ints = new LinkedHashMap<>(source);
        ints.put("stages.0.0.gamma", source.get("stages.0.0.gamma").to(ScalarType.Int));
        Path intFile = dir.resolve("int.safetensors");
        SafeTensors.write(intFile, null, ints);
        try (ConfiguredModule m = ConvNeXtConfig.of(List.of(1, 1, 1, 1), List.of(4, 8, 8, 8), 3, 7, 1).build()) {
            TensorFileException e = assertThrows(TensorFileException.class, () -> InitWeights.load(intFile, m));
            assertTrue(e.getMessage().contains("stages.0.0.gamma: expected F32, file I32"), e.getMessage());
        }
        assertThrows(TensorFileException.class, () -> InitWeights.load(dir.resolve("absent.safetensors"), null));
    }
}
