package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnTests.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.torch.TensorFileException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every model kind survives Checkpoints.save / load bit for bit; broken files fail naming the file. */
class ModelCheckpointTest {
    static {
        NnTests.init();
    }

    @TempDir
    Path dir;

    /**
     * Runs a few training-mode forwards (BatchNorm statistics move away from their initial values), then checks
     * that the reloaded model gives identical eval-mode outputs.
     */
    private <M extends ConfiguredModule> void roundTrip(M model, Function<M, List<Tensor>> forward, String file)
            throws IOException {
        Path path = dir.resolve(file);
        ConfiguredModule loaded = null;
        try {
            model.train(true);
            for (int i = 0; i < 3; i++) {
                try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                    forward.apply(model);
                }
            }
            model.eval();
            Checkpoints.save(path, model);
            loaded = Checkpoints.load(path);
            assertEquals(model.getClass(), loaded.getClass());
            assertEquals(model.config(), loaded.config());
            loaded.eval();
            try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                @SuppressWarnings("unchecked")
                List<Tensor> b = forward.apply((M) loaded);
                NnTests.assertSameTensors(forward.apply(model), b);
            }
        } finally {
            if (loaded != null) loaded.close();
            model.close();
        }
    }

    private static List<Tensor> maps(long seed, long[] channels, long[] sizes) {
        List<Tensor> out = new java.util.ArrayList<>();
        for (int i = 0; i < channels.length; i++) out.add(randn(seed + i, 2, channels[i], sizes[i], sizes[i]));
        return out;
    }

    @Test
    void resnetRoundTripIncludingBatchNormStatistics() throws IOException {
        ResNet net = ResNetConfig.small(18, 4, 1, 3).build();
        Path probe = dir.resolve("probe.dtt");
        roundTrip(net, m -> {
            List<Tensor> out = new java.util.ArrayList<>(Backbone.tensors(m.features(randn(7, 2, 1, 17, 17))));
            out.add(m.classify(randn(7, 2, 1, 17, 17)));
            return out;
        }, "resnet.dtt");
        // The statistics really moved: a fresh model's running mean is zero, the saved one's is not.
        ResNet again = ResNetConfig.small(18, 4, 1, 3).build();
        try (PointerScope scope = new PointerScope()) {
            again.train(true);
            try (NoGradGuard ng = new NoGradGuard()) {
                again.features(randn(7, 2, 1, 17, 17));
            }
            Checkpoints.save(probe, again);
            Map<String, Tensor> t = TensorFile.read(probe).tensors();
            assertTrue(t.get("model/bn1.running_mean").abs().sum().item_double() > 0);
            assertEquals(1, t.get("model/bn1.num_batches_tracked").item_long());
        } finally {
            again.close();
        }
    }

    @Test
    void resnet50AndHeadResetRoundTrip() throws IOException {
        ResNet net = ResNetConfig.small(50, 2, 3, 10).build();
        net.resetHead(4);
        roundTrip(net, m -> List.of(m.classify(randn(8, 2, 3, 12, 12))), "resnet50.dtt");
    }

    @Test
    void convnextRoundTrip() throws IOException {
        ConvNeXt net = new ConvNeXtConfig(List.of(1, 1, 2, 1), List.of(8, 8, 16, 16), 3, 5, 2, 0.0, 1e-6).build();
        roundTrip(net, m -> {
            List<Tensor> out = new java.util.ArrayList<>(Backbone.tensors(m.features(randn(9, 2, 3, 16, 16))));
            out.add(m.classify(randn(9, 2, 3, 16, 16)));
            return out;
        }, "convnext.dtt");
    }

    @Test
    void regressorInterpreterAndHeadRoundTrip() throws IOException {
        long[] ch = {4, 6, 8};
        long[] sizes = {9, 5, 3};
        roundTrip(FeatureRegressorConfig.of(ch, new long[] {3, 5, 7}, 8).build(), m -> m.forward(maps(11, ch, sizes)), "reg.dtt");
        roundTrip(new InterpreterConfig(List.of(4L, 6L, 8L), 8, 3, 0.1).build(),
                m -> List.of(m.forward(maps(12, ch, sizes), 12, 12), m.pooled(maps(12, ch, sizes))), "interp.dtt");
        roundTrip(new SegmentationHeadConfig(List.of(4L, 6L, 8L), 8, 3, "concat").build(),
                m -> List.of(m.forward(maps(13, ch, sizes), 11, 11)), "seg.dtt");
    }

    @Test
    void configsRoundTripThroughJson() {
        List<ModelConfig> configs = List.of(
                ResNetConfig.small(34, 8, 1, 10),
                ConvNeXtConfig.of(List.of(2, 2, 6, 2), List.of(32, 64, 128, 256), 3, 0, 1),
                FeatureRegressorConfig.of(new long[] {64, 128, 256, 512}, new long[] {256, 256, 128, 64}),
                InterpreterConfig.of(new long[] {256, 128}, 11),
                new SegmentationHeadConfig(List.of(8L, 16L), 32, 5, "sum"),
                org.dreamteacher.gan.GanConfig.of(3, 32, 16),
                org.dreamteacher.gan.GanConfig.of(1, 28, 64).discriminator());
        for (ModelConfig c : configs) {
            JsonNode json = ModelConfigs.toJson(c);
            assertEquals(c, ModelConfigs.fromJson(c.kind(), json), json::toString);
        }
        ObjectNode bad = (ObjectNode) ModelConfigs.toJson(ResNetConfig.small(18, 8, 1, 10));
        bad.put("depth", 19);
        NnTests.assertRejected("depth must be 18, 34 or 50", () -> ModelConfigs.fromJson("resnet", bad));
        ObjectNode extra = (ObjectNode) ModelConfigs.toJson(ResNetConfig.small(18, 8, 1, 10));
        extra.put("dilation", 2);
        NnTests.assertRejected("dilation", () -> ModelConfigs.fromJson("resnet", extra));
    }

    @Test
    void brokenFilesFailNamingTheFile() throws IOException {
        Path good = dir.resolve("good.dtt");
        ResNet net = ResNetConfig.small(18, 2, 1, 2).build();
        try {
            Checkpoints.save(good, net);
        } finally {
            net.close();
        }
        byte[] bytes = Files.readAllBytes(good);

        Path truncated = dir.resolve("truncated.dtt");
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertNamesFile(truncated, () -> Checkpoints.load(truncated));

        Path corrupt = dir.resolve("corrupt.dtt");
        byte[] flipped = bytes.clone();
        flipped[flipped.length - 100] ^= 0x5a;
        Files.write(corrupt, flipped);
        assertNamesFile(corrupt, () -> Checkpoints.load(corrupt));

        assertNamesFile(good, () -> Checkpoints.load(good, ConvNeXt.class));
        try (ResNet typed = Checkpoints.load(good, ResNet.class)) {
            assertInstanceOf(Backbone.class, typed);
        }

        // A valid tensor file whose kind is unknown, and one whose config is invalid.
        Path unknown = dir.resolve("unknown.dtt");
        Map<String, Tensor> tensors = TensorFile.read(good).tensors();
        JsonNode meta = TensorFile.read(good).meta();
        ObjectNode m1 = meta.deepCopy();
        m1.put("kind", "transformer");
        TensorFile.write(unknown, m1, tensors);
        TensorFileException e1 = assertNamesFile(unknown, () -> Checkpoints.load(unknown));
        assertTrue(e1.getMessage().contains("unknown model kind 'transformer'"), e1.getMessage());

        Path invalid = dir.resolve("invalid.dtt");
        ObjectNode m2 = meta.deepCopy();
        ((ObjectNode) m2.get("config")).put("inChannels", 2);
        TensorFile.write(invalid, m2, tensors);
        TensorFileException e2 = assertNamesFile(invalid, () -> Checkpoints.load(invalid));
        assertTrue(e2.getMessage().contains("inChannels must be 1 or 3"), e2.getMessage());

        Path mismatch = dir.resolve("mismatch.dtt");
        ObjectNode m3 = meta.deepCopy();
        ((ObjectNode) m3.get("config")).put("width", 4);
        TensorFile.write(mismatch, m3, tensors);
        TensorFileException e3 = assertNamesFile(mismatch, () -> Checkpoints.load(mismatch));
        assertTrue(e3.getMessage().contains("wrong shape"), e3.getMessage());

        Path notCheckpoint = dir.resolve("features.dtt");
        TensorFile.write(notCheckpoint, JsonNodeFactory.instance.objectNode(), Map.of());
        assertNamesFile(notCheckpoint, () -> Checkpoints.load(notCheckpoint));
    }

    private static TensorFileException assertNamesFile(Path file, org.junit.jupiter.api.function.Executable call) {
        TensorFileException e = assertThrows(TensorFileException.class, call);
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        return e;
    }
}
