package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnTests.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.torch.SafeTensors;
import org.dreamteacher.torch.TensorFileException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every checkpoint kind exports to safetensors under its state-dict names and converts back bit for bit. */
class SafeTensorsExportTest {
    static {
        NnTests.init();
    }

    @TempDir
    Path dir;

    private static final UNetConfig UNET = new UNetConfig(1, 1, 16, 8, List.of(1, 2), 1, List.of(), 4, 0, false, 0.0, 0, 4, List.of(0, 2));

    @Test
    void everyKindRoundTripsThroughSafeTensors() throws IOException {
        List<ModelConfig> configs = List.of(
                ResNetConfig.small(18, 4, 1, 3),
                new ConvNeXtConfig(List.of(1, 1, 2, 1), List.of(8, 8, 16, 16), 3, 5, 2, 0.0, 1e-6),
                FeatureRegressorConfig.of(new long[] {4, 6, 8}, new long[] {3, 5, 7}, 8),
                new InterpreterConfig(List.of(4L, 6L, 8L), 8, 3, 0.1),
                new SegmentationHeadConfig(List.of(4L, 6L, 8L), 8, 3, "concat"),
                UNET,
                DiffusionConfig.of(UNET),
                new org.dreamteacher.gan.GanConfig(1, 28, 8, 8, 2, List.of(8, 8, 8, 8)),
                new org.dreamteacher.gan.GanConfig(3, 16, 8, 8, 1, List.of(8, 4, 4)).discriminator());
        for (ModelConfig config : configs) {
            Path dtt = dir.resolve(config.kind() + ".dtt"), st = dir.resolve(config.kind() + ".safetensors"), back = dir.resolve(config.kind() + "-back.dtt");
            try (ConfiguredModule model = config.build(); PointerScope scope = new PointerScope()) {
                if (model instanceof ResNet r) moveBatchNormStatistics(r);
                Checkpoints.save(dtt, model);
                Checkpoints.Conversion out = Checkpoints.exportSafeTensors(dtt, st);
                Map<String, Tensor> state = Checkpoints.state(model);
                assertEquals(config.kind(), out.kind());
                assertEquals(state.size(), out.tensors());

                SafeTensors.Contents c = SafeTensors.read(st);
                assertEquals(state.keySet(), c.tensors().keySet(), config.kind() + ": the state-dict names, without a prefix");
                assertEquals("pt", c.metadata().get("format"));
                assertEquals(config.kind(), c.metadata().get("dreamteacher.kind"));
                assertEquals(config, ModelConfigs.fromJson(config.kind(), new ObjectMapper().readTree(c.metadata().get("dreamteacher.config"))));
                for (Map.Entry<String, Tensor> e : state.entrySet()) {
                    Tensor t = c.tensors().get(e.getKey());
                    assertEquals(e.getValue().scalar_type().intern(), t.scalar_type().intern(), e.getKey());
                    assertTrue(e.getValue().equal(t), e.getKey());
                }

                Checkpoints.Conversion in = Checkpoints.importSafeTensors(st, back);
                assertEquals(state.size(), in.tensors());
                try (ConfiguredModule again = Checkpoints.load(back); PointerScope inner = new PointerScope()) {
                    assertEquals(config, again.config());
                    Map<String, Tensor> s2 = Checkpoints.state(again);
                    assertEquals(state.keySet(), s2.keySet());
                    for (Map.Entry<String, Tensor> e : state.entrySet()) assertTrue(e.getValue().equal(s2.get(e.getKey())), e.getKey());
                }
            }
        }
    }

    @Test
    void resnetExportUsesTorchvisionNamesWithBatchNormBuffers() throws IOException {
        Path dtt = dir.resolve("r.dtt"), st = dir.resolve("r.safetensors");
        try (ResNet net = ResNetConfig.small(18, 4, 1, 3).build()) {
            moveBatchNormStatistics(net);
            Checkpoints.save(dtt, net);
        }
        Checkpoints.exportSafeTensors(dtt, st);
        SafeTensors.Contents c = SafeTensors.read(st);
        for (String name : List.of("conv1.weight", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
                "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.1.bn2.bias", "fc.weight", "fc.bias"))
            assertTrue(c.tensors().containsKey(name), name + " in " + c.tensors().keySet());
        assertFalse(c.tensors().keySet().stream().anyMatch(n -> n.startsWith("model/") || n.startsWith("extra/")));
        assertEquals(ScalarType.Long, c.tensors().get("bn1.num_batches_tracked").scalar_type().intern());
        assertEquals(1, c.tensors().get("bn1.num_batches_tracked").item_long());
        assertTrue(c.tensors().get("bn1.running_mean").abs().sum().item_double() > 0, "the statistics that moved are exported");
    }

    @Test
    void convnextExportUsesTheOfficialNames() throws IOException {
        Path dtt = dir.resolve("c.dtt"), st = dir.resolve("c.safetensors");
        try (ConfiguredModule net = ConvNeXtConfig.of(List.of(1, 1, 1, 1), List.of(4, 8, 8, 8), 3, 10, 4).build()) {
            Checkpoints.save(dtt, net);
        }
        Checkpoints.exportSafeTensors(dtt, st);
        Map<String, Tensor> t = SafeTensors.read(st).tensors();
        for (String name : List.of("downsample_layers.0.0.weight", "downsample_layers.0.1.weight", "downsample_layers.1.0.weight",
                "downsample_layers.1.1.weight", "stages.0.0.dwconv.weight", "stages.0.0.norm.weight", "stages.0.0.pwconv1.weight",
                "stages.0.0.pwconv2.bias", "stages.0.0.gamma", "norm.weight", "head.weight", "head.bias"))
            assertTrue(t.containsKey(name), name + " in " + t.keySet());
        assertArrayEquals(new long[] {4, 3, 4, 4}, t.get("downsample_layers.0.0.weight").sizes().vec().get());
    }

    @Test
    void importNeedsTheMetadataAndAFittingFile() throws IOException {
        Path plain = dir.resolve("plain.safetensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("conv1.weight", randn(1, 4, 1, 3, 3));
        SafeTensors.write(plain, Map.of("format", "pt"), tensors);
        TensorFileException e = assertThrows(TensorFileException.class, () -> Checkpoints.importSafeTensors(plain, dir.resolve("x.dtt")));
        assertTrue(e.getMessage().startsWith(plain.toString()) && e.getMessage().contains("dreamteacher.kind") && e.getMessage().contains("--init"),
                e.getMessage());

        Path dtt = dir.resolve("r.dtt"), st = dir.resolve("r.safetensors");
        try (ResNet net = ResNetConfig.small(18, 4, 1, 3).build()) {
            Checkpoints.save(dtt, net);
        }
        Checkpoints.exportSafeTensors(dtt, st);
        SafeTensors.Contents c = SafeTensors.read(st);
        Map<String, Tensor> changed = new LinkedHashMap<>(c.tensors());
        changed.remove("layer1.0.bn1.running_var");
        changed.put("fc.weight", randn(2, 4, 32));
        changed.put("bn1.num_batches_tracked", c.tensors().get("bn1.num_batches_tracked").to(ScalarType.Int));
        changed.put("stray", randn(3, 2));
        Path bad = dir.resolve("bad.safetensors");
        SafeTensors.write(bad, c.metadata(), changed);
        e = assertThrows(TensorFileException.class, () -> Checkpoints.importSafeTensors(bad, dir.resolve("bad.dtt")));
        for (String part : List.of("1 missing [layer1.0.bn1.running_var [4]]", "1 unexpected [stray [2]]",
                "1 mis-shaped [fc.weight: expected [3, 32], file [4, 32]]", "bn1.num_batches_tracked: expected I64, file I32"))
            assertTrue(e.getMessage().contains(part), part + " not in " + e.getMessage());
        assertFalse(Files.exists(dir.resolve("bad.dtt")));

        Map<String, String> forgedMeta = new LinkedHashMap<>(c.metadata());
        forgedMeta.put("dreamteacher.config", "{\"depth\":50,\"width\":4000,\"inChannels\":3,\"numClasses\":0,\"smallStem\":false}");
        Path forged = dir.resolve("forged.safetensors");
        SafeTensors.write(forged, forgedMeta, c.tensors());
        e = assertThrows(TensorFileException.class, () -> Checkpoints.importSafeTensors(forged, dir.resolve("f.dtt")));
        assertTrue(e.getMessage().contains("refusing to build it"), e.getMessage());
    }

    private static void moveBatchNormStatistics(ResNet net) {
        net.train(true);
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            net.features(randn(5, 2, net.config().inChannels(), 12, 12));
        }
        net.eval();
    }
}
