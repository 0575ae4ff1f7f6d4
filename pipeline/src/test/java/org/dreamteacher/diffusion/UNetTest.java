package org.dreamteacher.diffusion;

import static org.dreamteacher.diffusion.DiffusionTestSupport.allFinite;
import static org.dreamteacher.diffusion.DiffusionTestSupport.longs;
import static org.dreamteacher.diffusion.DiffusionTestSupport.maxAbs;
import static org.dreamteacher.diffusion.DiffusionTestSupport.perturb;
import static org.dreamteacher.diffusion.DiffusionTestSupport.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.Layers;
import org.dreamteacher.nn.ModelConfig;
import org.dreamteacher.nn.ModelConfigs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Shapes, taps, configs, gradients and checkpoints of the ADM-style U-Net. Models are tiny: 2 shared cores. */
class UNetTest {

    private static void assertRejected(String fragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), () -> "message '" + e.getMessage() + "' should contain '" + fragment + "'");
    }

    private static UNetConfig config(int in, int size, int base, List<Integer> mult, int blocks, List<Integer> attn, int heads,
            boolean middleAttn, int classes, int groups, List<Integer> taps) {
        return new UNetConfig(in, in, size, base, mult, blocks, attn, heads, 0, middleAttn, 0.0, classes, groups, taps);
    }

    @Test
    void outputShapesForSeveralConfigs() {
        List<UNetConfig> configs = List.of(
                DiffusionTestSupport.tinyConfig(),
                // odd channel counts (5, 15), odd time-embedding width, 3 input channels, attention at 4x4 and in the middle
                config(3, 8, 5, List.of(1, 3), 1, List.of(4), 3, true, 0, 32, List.of(0, 2)),
                // three levels, attention at 8x8 only, head width instead of head count
                new UNetConfig(1, 1, 16, 8, List.of(1, 2, 2), 2, List.of(8), 0, 4, false, 0.1, 0, 4, List.of(3, 6)),
                // class-conditional
                config(1, 8, 4, List.of(1, 2), 1, List.of(), 1, true, 3, 2, List.of(1)));
        for (UNetConfig c : configs) {
            UNet net = c.build();
            try (PointerScope scope = new PointerScope()) {
                perturb(net, 1, 0.05);
                int n = 2;
                Tensor x = new Noise(2).normal(n, c.inChannels(), c.imageSize(), c.imageSize());
                Tensor t = longs(3, 900);
                Tensor labels = c.numClasses() > 0 ? longs(0, 2) : null;
                net.train(true);
                Tensor y = net.forward(x, t, labels);
                assertArrayEquals(new long[] {n, c.outChannels(), c.imageSize(), c.imageSize()}, shape(y), c.toString());
                assertTrue(allFinite(y), c.toString());
                assertTrue(maxAbs(y) > 0, "a perturbed model predicts something");
                if (c.dropout() > 0) assertFalse(torch.equal(y, net.forward(x, t, labels)), "dropout is active in training mode");
                net.eval();
                assertTrue(torch.equal(net.forward(x, t, labels), net.forward(x, t, labels)), "eval mode is deterministic");
                // any size that is a multiple of 2^(levels-1) works, not only imageSize
                Tensor big = new Noise(3).normal(1, c.inChannels(), 2L * c.imageSize(), c.imageSize());
                Tensor yb = net.forward(big, longs(10), labels == null ? null : longs(1));
                assertArrayEquals(new long[] {1, c.outChannels(), 2L * c.imageSize(), c.imageSize()}, shape(yb));
            }
        }
    }

    @Test
    void freshModelPredictsZeroAsAdm() {
        UNet net = DiffusionTestSupport.tinyConfig().build();
        try (PointerScope scope = new PointerScope()) {
            Tensor y = net.forward(new Noise(4).normal(2, 1, 16, 16), longs(1, 2));
            assertEquals(0.0, maxAbs(y), "the output convolution starts at zero");
        }
    }

    @Test
    void tapsMatchTheListing() {
        UNetConfig base = new UNetConfig(1, 1, 16, 4, List.of(1, 2, 3), 2, List.of(4), 2, 0, true, 0.0, 0, 2, List.of());
        List<TapInfo> blocks = base.decoderBlocks();
        assertEquals(9, blocks.size());
        assertEquals(9, base.decoderBlockCount());
        // ADM's layout: 3 blocks per level, the last of each level but the top one upsamples
        int[] strides = {4, 4, 2, 2, 2, 1, 1, 1, 1};
        int[] channels = {12, 12, 12, 8, 8, 8, 4, 4, 4};
        for (int i = 0; i < 9; i++) {
            assertEquals(i, blocks.get(i).index());
            assertEquals("out" + i, blocks.get(i).name());
            assertEquals(strides[i], blocks.get(i).stride(), "stride of block " + i);
            assertEquals(16 / strides[i], blocks.get(i).resolution());
            assertEquals(channels[i], blocks.get(i).channels(), "channels of block " + i);
            assertEquals(i <= 2, blocks.get(i).attention(), "attention at 4x4 in block " + i + " (before its upsampler)");
        }
        List<Integer> all = List.of(8, 0, 1, 2, 3, 4, 5, 6, 7);
        UNet net = base.withTaps(all).build();
        try (PointerScope scope = new PointerScope()) {
            perturb(net, 5, 0.05);
            net.eval();
            Tensor x = new Noise(6).normal(2, 1, 16, 16);
            Tensor t = longs(5, 50);
            UNet.Output out = net.forwardWithFeatures(x, t, null);
            List<FeatureMap> features = net.features(x, t);
            List<TapInfo> listed = net.tapInfos();
            assertEquals(9, features.size());
            int lastStride = Integer.MAX_VALUE;
            for (int i = 0; i < features.size(); i++) {
                FeatureMap f = features.get(i);
                TapInfo info = listed.get(i);
                assertEquals(info.name(), f.name());
                assertEquals(info.stride(), f.stride());
                assertEquals(info.channels(), f.channels());
                assertArrayEquals(new long[] {2, info.channels(), 16 / info.stride(), 16 / info.stride()}, shape(f.tensor()));
                assertTrue(f.stride() <= lastStride, "largest stride first");
                lastStride = f.stride();
                assertTrue(torch.equal(f.tensor(), out.features().get(i).tensor()), "features() stops early but gives the same tensors");
            }
            assertTrue(torch.equal(out.output(), net.forward(x, t)), "forwardWithFeatures returns the normal output");
            // a subset, in the order of the listing
            List<FeatureMap> some = net.forwardWithFeatures(x, t, null, List.of(7, 1, 4)).features();
            assertEquals(List.of("out1", "out4", "out7"), some.stream().map(FeatureMap::name).toList());
            assertEquals(List.of(4, 2, 1), some.stream().map(FeatureMap::stride).toList());
        }
        assertEquals(List.of(3, 6), UNetConfig.defaultTaps(3, 2));
        assertEquals(List.of(3, 6), UNetConfig.of(1, 16, 8, List.of(1, 2, 2)).taps());
    }

    @Test
    void badConfigsAndInputsAreRejectedWithClearMessages() {
        assertRejected("multiple of 2^(levels-1) = 4", () -> config(1, 18, 8, List.of(1, 2, 2), 1, List.of(), 1, false, 0, 4, List.of()));
        assertRejected("tap 9 is out of range: this U-Net has 9 decoder blocks", () -> config(1, 16, 8, List.of(1, 2, 2), 2, List.of(), 1, false, 0, 4, List.of(9)));
        assertRejected("tap -1 is out of range", () -> config(1, 16, 8, List.of(1, 2), 1, List.of(), 1, false, 0, 4, List.of(-1)));
        assertRejected("tap 1 is listed twice", () -> config(1, 16, 8, List.of(1, 2), 1, List.of(), 1, false, 0, 4, List.of(1, 1)));
        assertRejected("attention resolution 5 is not one of the U-Net's resolutions [16, 8]", () -> config(1, 16, 8, List.of(1, 2), 1, List.of(5), 1, false, 0, 4, List.of()));
        assertRejected("16 channels cannot be split into 3 heads", () -> config(1, 16, 8, List.of(1, 2), 1, List.of(8), 3, false, 0, 4, List.of()));
        assertRejected("8 channels cannot be split into 3 heads", () -> config(1, 16, 8, List.of(1), 1, List.of(), 3, true, 0, 4, List.of()));
        assertRejected("channelMult must list at least one level", () -> config(1, 16, 8, List.of(), 1, List.of(), 1, false, 0, 4, List.of()));
        assertRejected("dropout must be in [0, 1)", () -> DiffusionTestSupport.tinyConfig().withDropout(1.0));
        assertRejected("numClasses must be >= 0", () -> DiffusionTestSupport.tinyConfig().withNumClasses(-2));
        assertRejected("outChannels (2) must equal inChannels (1)",
                () -> new DiffusionConfig(new UNetConfig(1, 2, 16, 8, List.of(1, 2), 1, List.of(), 4, 0, false, 0.0, 0, 4, List.of()), 1000, "linear"));
        assertRejected("unknown noise schedule 'quadratic'", () -> new DiffusionConfig(DiffusionTestSupport.tinyConfig(), 1000, "quadratic"));
        assertRejected("timesteps >= 21", () -> new DiffusionConfig(DiffusionTestSupport.tinyConfig(), 20, "linear"));

        UNet net = DiffusionTestSupport.tinyConfig().build();
        UNet conditional = DiffusionTestSupport.tinyConfig().withNumClasses(2).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor x = new Noise(1).normal(2, 1, 16, 16);
            assertRejected("input has 3 channels, the model expects 1", () -> net.forward(new Noise(1).normal(2, 3, 16, 16), longs(1, 2)));
            assertRejected("input size 11x16 must be a positive multiple of 2", () -> net.forward(new Noise(1).normal(2, 1, 11, 16), longs(1, 2)));
            assertRejected("1-D tensor of length N = 2", () -> net.forward(x, longs(1)));
            assertRejected("labels given to an unconditional model", () -> net.forward(x, longs(1, 2), longs(0, 1)));
            assertRejected("class-conditional (2 classes)", () -> conditional.forward(x, longs(1, 2)));
            assertRejected("labels must be in [0, 2), got values in [0, 2]", () -> conditional.forward(x, longs(1, 2), longs(0, 2)));
            assertThrows(IllegalStateException.class, () -> DiffusionTestSupport.tinyConfig().withTaps(List.of()).build().features(x, longs(1, 2)));
        }
    }

    @Test
    void configsRoundTripThroughJson() {
        UNetConfig u = new UNetConfig(3, 3, 32, 16, List.of(1, 2, 2, 4), 2, List.of(8, 4), 0, 8, true, 0.1, 10, 32, List.of(3, 6, 9));
        DiffusionConfig d = new DiffusionConfig(u, 500, "cosine");
        for (ModelConfig c : List.of(u, d)) {
            JsonNode json = ModelConfigs.toJson(c);
            assertEquals(c, ModelConfigs.fromJson(c.kind(), json));
            assertFalse(json.has("kind") || json.has("levels") || json.has("decoderBlocks") || json.has("noiseSchedule"),
                    "only the record components are stored: " + json);
        }
        assertEquals(14, ModelConfigs.toJson(u).size());
        assertEquals("unet", u.kind());
        assertEquals("diffusion", d.kind());
        assertInstanceOf(UNet.class, u.build());
        ObjectNode bad = ((ObjectNode) ModelConfigs.toJson(u)).deepCopy().put("imageSize", 30);
        assertRejected("invalid unet config", () -> ModelConfigs.fromJson("unet", bad));
    }

    /**
     * ADM zero-initialises the last convolution of every residual block, every attention projection and the
     * output layer, so a fresh model's only nonzero gradients are those of the output layer. That is asserted
     * as it is. Each optimiser step moves one more rank of zero layers away from zero (the output layer, then
     * the residual and attention output convolutions), so from the third backward pass on every parameter
     * must get a nonzero gradient. GroupNorm groups are kept below the channel counts here: with one channel per group
     * the bias of the convolution before a norm has an exactly zero gradient.
     */
    @Test
    void gradientsReachEveryParameter() {
        UNetConfig c = new UNetConfig(1, 1, 8, 8, List.of(1, 2), 1, List.of(4), 2, 0, true, 0.1, 3, 4, List.of(1));
        UNet net = c.build();
        net.train(true);
        AdamWOptions options = new AdamWOptions(1e-2);
        AdamW opt = new AdamW(net.parameters(), options);
        torch.manual_seed(11);
        Noise noise = new Noise(12);
        int previouslyZero = Integer.MAX_VALUE;
        for (int step = 0; step < 3; step++) {
            try (PointerScope scope = new PointerScope()) {
                opt.zero_grad();
                Tensor x = noise.normal(4, 1, 8, 8);
                Tensor target = noise.normal(4, 1, 8, 8);
                Tensor loss = torch.mse_loss(net.forward(x, longs(0, 300, 600, 999), longs(0, 1, 2, 1)), target);
                loss.backward();
                StringTensorDict params = net.named_parameters(true);
                List<String> zero = new ArrayList<>();
                for (long i = 0; i < params.size(); i++) {
                    String name = params.get(i).key().getString();
                    Tensor g = params.get(i).value().grad();
                    assertTrue(g.defined(), "no gradient for " + name);
                    assertTrue(allFinite(g), "non-finite gradient for " + name);
                    if (maxAbs(g) == 0) zero.add(name);
                }
                if (step == 0) {
                    assertFalse(zero.contains("out_conv.weight") || zero.contains("out_conv.bias"), "the output layer learns first");
                    assertEquals(params.size() - 2, zero.size(), "behind the zero output layer, everything else starts with a zero gradient: " + zero);
                } else if (step == 1) {
                    assertTrue(zero.size() < previouslyZero && zero.size() > 0, "the zero layers open up one rank per step: " + zero);
                } else {
                    assertEquals(List.of(), zero, "parameters without gradient after two steps");
                }
                previouslyZero = zero.size();
                opt.step();
            }
        }
    }

    @Test
    void checkpointRoundTripGivesIdenticalOutputs(@TempDir Path dir) throws IOException {
        UNetConfig c = new UNetConfig(1, 1, 8, 6, List.of(1, 2), 1, List.of(4), 2, 0, true, 0.0, 2, 4, List.of(0, 3));
        GaussianDiffusion model = new DiffusionConfig(c, 100, "cosine").build();
        perturb(model, 21, 0.05);
        model.eval();
        Path file = dir.resolve("teacher.dtt");
        Checkpoints.save(file, model);
        GaussianDiffusion loaded = Checkpoints.load(file, GaussianDiffusion.class);
        assertEquals(model.config(), loaded.config());
        assertEquals(model.schedule(), loaded.schedule());
        assertTrue(loaded.unet().is_training(), "a freshly built model is in training mode");
        loaded.eval();
        UNet direct = c.build();
        Path unetFile = dir.resolve("unet.dtt");
        perturb(direct, 22, 0.05);
        direct.eval();
        Checkpoints.save(unetFile, direct);
        UNet directLoaded = Checkpoints.load(unetFile, UNet.class);
        directLoaded.eval();
        try (PointerScope scope = new PointerScope()) {
            Tensor x = new Noise(23).normal(3, 1, 8, 8);
            Tensor t = longs(0, 40, 99);
            Tensor y = longs(1, 0, 1);
            UNet.Output a = model.unet().forwardWithFeatures(x, t, y);
            UNet.Output b = loaded.unet().forwardWithFeatures(x, t, y);
            assertTrue(maxAbs(a.output()) > 0);
            assertTrue(torch.equal(a.output(), b.output()), "reloaded model gives the same output");
            for (int i = 0; i < a.features().size(); i++) assertTrue(torch.equal(a.features().get(i).tensor(), b.features().get(i).tensor()));
            assertTrue(torch.equal(direct.forward(x, t, y), directLoaded.forward(x, t, y)));
        }
        ConfiguredModule any = Checkpoints.load(file);
        assertInstanceOf(GaussianDiffusion.class, any);

        // damaged files: the error names the file
        Path truncated = dir.resolve("truncated.dtt");
        Files.copy(file, truncated);
        try (FileChannel ch = FileChannel.open(truncated, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 2);
        }
        IOException e1 = assertThrows(IOException.class, () -> Checkpoints.load(truncated));
        assertTrue(e1.getMessage().contains(truncated.toString()), e1.getMessage());
        Path corrupt = dir.resolve("corrupt.dtt");
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 100] ^= 0x5a;
        Files.write(corrupt, bytes);
        IOException e2 = assertThrows(IOException.class, () -> Checkpoints.load(corrupt));
        assertTrue(e2.getMessage().contains(corrupt.toString()), e2.getMessage());
        IOException e3 = assertThrows(IOException.class, () -> Checkpoints.load(file, UNet.class));
        assertTrue(e3.getMessage().contains(file.toString()) && e3.getMessage().contains("'diffusion'"), e3.getMessage());
    }

    @Test
    void timestepEmbeddingIsAdms() {
        try (PointerScope scope = new PointerScope()) {
            Tensor e = UNet.timestepEmbedding(longs(0, 7), 5);
            float[] v = DiffusionTestSupport.toFloats(e);
            assertArrayEquals(new long[] {2, 5}, shape(e));
            // t = 0: cos = 1, sin = 0, zero padding
            assertArrayEquals(new float[] {1, 1, 0, 0, 0}, java.util.Arrays.copyOfRange(v, 0, 5));
            double f1 = Math.exp(-Math.log(10000) / 2);
            assertEquals(Math.cos(7), v[5], 1e-6);
            assertEquals(Math.cos(7 * f1), v[6], 1e-5);
            assertEquals(Math.sin(7), v[7], 1e-6);
            assertEquals(Math.sin(7 * f1), v[8], 1e-5);
            assertEquals(0f, v[9]);
        }
    }

    /**
     * The convolutions the tests run on give the same input gradients as a float64 reference, for the channel
     * counts the U-Nets here use (see {@link org.dreamteacher.torch.ConvolutionGuard}: with oneDNN
     * unrestricted, this fails on AMD Zen 5 machines).
     */
    @Test
    void convolutionGradientsMatchAFloat64Reference() {
        for (int[] c : new int[][] {{8, 4}, {12, 12}, {24, 8}, {16, 5}}) {
            Conv2dImpl conv = Layers.conv(c[0], c[1], 3, 1, 1, true);
            try (PointerScope scope = new PointerScope()) {
                Tensor x = new Noise(1).normal(2, c[0], 8, 8).set_requires_grad(true);
                Tensor g = new Noise(2).normal(2, c[1], 8, 8);
                Tensor y = conv.forward(x);
                y.backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
                Tensor xd = x.detach().to(ScalarType.Double).set_requires_grad(true);
                Tensor yd = torch.conv2d(xd, conv.weight().detach().to(ScalarType.Double),
                        new TensorOptional(conv.bias().detach().to(ScalarType.Double)), new long[] {1, 1}, new long[] {1, 1}, new long[] {1, 1}, 1);
                yd.backward(g.to(ScalarType.Double), new BoolOptional(), false, new TensorArrayRefOptional());
                String what = c[0] + " -> " + c[1] + " channels";
                assertTrue(maxAbs(y.to(ScalarType.Double).sub(yd)) < 1e-4, "forward, " + what);
                assertTrue(maxAbs(x.grad().to(ScalarType.Double).sub(xd.grad())) < 1e-4, "input gradient, " + what);
            }
        }
    }
}
