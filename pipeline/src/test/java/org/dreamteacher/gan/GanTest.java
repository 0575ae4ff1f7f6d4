package org.dreamteacher.gan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.ModelConfigs;
import org.dreamteacher.torch.ConvolutionGuard;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Ema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GAN teacher's networks: shapes, taps and strides, demodulation, EMA, checkpoints and R1's second derivative. */
class GanTest {
    static {
        TorchRuntime.init();
    }

    @TempDir
    Path dir;

    /** 28 px grey images on a 32 px canvas, blocks 16, 16, 8, 8 wide. */
    static GanConfig tiny() {
        return new GanConfig(1, 28, 16, 16, 2, List.of(16, 16, 8, 8));
    }

    @Test
    void configPicksTheCanvasAndWidths() {
        GanConfig c = GanConfig.of(1, 28, 64);
        assertEquals(32, c.canvasSize());
        assertEquals(List.of(64, 64, 32, 16), c.widths());
        assertEquals(64, GanConfig.of(3, 64, 32).canvasSize());
        assertEquals(32, GanConfig.canvasFor(17));
        assertEquals(4, GanConfig.canvasFor(3));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new GanConfig(1, 28, 8, 8, 1, List.of(8, 8, 8)));
        assertTrue(e.getMessage().contains("32 px canvas"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new GanConfig(2, 32, 8, 8, 1, List.of(8, 8, 8, 8)));
        // the JSON form that checkpoints store rebuilds the same config
        assertEquals(c, ModelConfigs.fromJson("gan-generator", ModelConfigs.toJson(c)));
        assertEquals(c.discriminator(), ModelConfigs.fromJson("gan-discriminator", ModelConfigs.toJson(c.discriminator())));
    }

    @Test
    void shapesAndTapStridesAt32Pixels() {
        GanConfig c = new GanConfig(3, 32, 16, 16, 2, List.of(16, 16, 8, 8));
        try (GanGenerator g = c.build(); GanDiscriminator d = c.discriminator().build(); PointerScope scope = new PointerScope()) {
            torch.manual_seed(1);
            Tensor z = g.latents(5);
            GanGenerator.Output out = g.synthesize(z);
            assertArrayEquals(new long[] {5, 3, 32, 32}, out.image().sizes().vec().get());
            List<GanTap> taps = c.taps();
            assertEquals(4, out.features().size());
            int[] strides = {8, 4, 2, 1};
            for (int i = 0; i < 4; i++) {
                FeatureMap f = out.features().get(i);
                GanTap t = taps.get(i);
                assertEquals(strides[i], f.stride());
                assertEquals(t.stride(), f.stride());
                assertEquals(t.name(), f.name());
                assertEquals(t.channels(), f.channels());
                assertArrayEquals(new long[] {5, t.channels(), 32 / strides[i], 32 / strides[i]}, f.tensor().sizes().vec().get());
            }
            assertEquals(List.of("b4", "b8", "b16", "b32"), taps.stream().map(GanTap::name).toList());
            // features() alone gives the same taps (noise drawn in the same order)
            torch.manual_seed(2);
            List<FeatureMap> only = g.features(z);
            torch.manual_seed(2);
            List<FeatureMap> withImage = g.synthesize(z).features();
            for (int i = 0; i < 4; i++) assertTrue(only.get(i).tensor().equal(withImage.get(i).tensor()));
            Tensor logits = d.forward(out.image());
            assertArrayEquals(new long[] {5}, logits.sizes().vec().get());
            assertTrue(torch.isfinite(logits).all().item_bool());
            assertThrows(IllegalArgumentException.class, () -> d.forward(torch.zeros(2, 3, 28, 28)));
            assertThrows(IllegalArgumentException.class, () -> g.forward(torch.zeros(2, 15)));
        }
    }

    @Test
    void samplesAreCroppedToTheImageSizeAndInRange() {
        try (GanGenerator g = tiny().build(); PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            torch.manual_seed(3);
            Tensor canvas = g.forward(g.latents(4));
            assertArrayEquals(new long[] {4, 1, 32, 32}, canvas.sizes().vec().get());
            torch.manual_seed(3);
            Tensor x = g.sample(g.latents(4));
            assertArrayEquals(new long[] {4, 1, 28, 28}, x.sizes().vec().get());
            assertTrue(x.min().item_double() >= -1 && x.max().item_double() <= 1);
            // padding then cropping is the identity, and the padding is black (-1)
            Tensor real = torch.rand(2, 1, 28, 28).mul(org.dreamteacher.nn.Layers.s(2)).sub(org.dreamteacher.nn.Layers.s(1));
            Tensor padded = GanGenerator.padToCanvas(real, 32);
            assertArrayEquals(new long[] {2, 1, 32, 32}, padded.sizes().vec().get());
            assertTrue(g.crop(padded).equal(real));
            assertEquals(-1.0, padded.narrow(2, 0, 2).max().item_double());
            assertEquals(-1.0, padded.narrow(3, 30, 2).max().item_double());
        }
    }

    @Test
    void demodulationGivesUnitNormWeightsPerSampleAndMatchesPerSampleConvolution() {
        try (GanGenerator g = tiny().build(); PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            torch.manual_seed(4);
            long n = 3;
            Tensor w = g.mapping(g.latents(n));
            int demodulated = 0;
            for (GanGenerator.ModulatedConv m : g.modulatedConvs()) {
                // random styles far from the initial ones, so that demodulation has something to undo
                torch.manual_seed(5 + demodulated);
                m.affine.weight.normal_(0, 1, new org.bytedeco.pytorch.GeneratorOptional());
                Tensor weights = m.weights(w); // (N, out, in, k, k)
                if (m.demodulate) {
                    demodulated++;
                    Tensor norms = weights.to(ScalarType.Double).square().sum(new long[] {2, 3, 4}, false, new ScalarTypeOptional()).sqrt();
                    assertArrayEquals(new long[] {n, m.out}, norms.sizes().vec().get());
                    double worst = norms.sub(org.dreamteacher.nn.Layers.s(1)).abs().max().item_double();
                    assertTrue(worst < 1e-4, "a demodulated output channel has weight norm off 1 by " + worst);
                    // without demodulation the norms vary with the style: the test would notice a no-op
                    Tensor raw = m.conv.weight().unsqueeze(0).mul(m.styles(w).view(n, 1, m.in, 1, 1));
                    assertTrue(raw.square().sum(new long[] {2, 3, 4}, false, new ScalarTypeOptional()).sqrt().sub(org.dreamteacher.nn.Layers.s(1))
                            .abs().max().item_double() > 0.1);
                }
                // the non-fused forward equals convolving each sample with its own weights (a grouped convolution, in float64)
                long k = m.conv.weight().size(2), h = 6;
                Tensor x = torch.randn(n, m.in, h, h);
                Tensor grouped = torch.conv2d(x.to(ScalarType.Double).reshape(1, n * m.in, h, h),
                        weights.to(ScalarType.Double).reshape(n * m.out, m.in, k, k), new TensorOptional(), new long[] {1},
                        new long[] {k / 2}, new long[] {1}, n).reshape(n, m.out, h, h);
                Tensor ours = m.forward(x, w).to(ScalarType.Double); // noise strength and bias start at 0
                double err = ours.sub(grouped).abs().max().item_double() / grouped.abs().max().item_double();
                assertTrue(err < 1e-4, "modulated convolution differs from the per-sample convolution by " + err);
            }
            assertEquals(7, demodulated); // 1 at 4x4, 2 at each of 8, 16, 32
        }
    }

    /**
     * With beta1 = 0 Adam follows the latest gradient alone: a gradient of +1 then -1 moves a weight down by lr and
     * back up by lr (with beta1 = 0.99 the second step would hardly move it). Also: no step is larger than lr.
     */
    @Test
    void adamGetsTheBetasItIsGiven() {
        try (PointerScope scope = new PointerScope()) {
            Tensor p = torch.zeros(1).set_requires_grad(true);
            org.bytedeco.pytorch.Adam adam = new org.bytedeco.pytorch.Adam(new TensorVector(p), GanTrainer.adamOptions(0.01, 0.0, 0.99));
            double[] after = new double[2];
            for (int step = 0; step < 2; step++) {
                adam.zero_grad();
                p.mul(org.dreamteacher.nn.Layers.s(step == 0 ? 1 : -1)).sum().backward();
                adam.step();
                after[step] = p.item_double();
            }
            assertEquals(-0.01, after[0], 1e-6);
            assertEquals(0.0, after[1], 1e-6);
            adam.close();
        }
    }

    @Test
    void emaUpdateMovesTowardsTheModel() {
        try (GanGenerator a = tiny().build(); GanGenerator b = tiny().build(); PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor pa = a.parameters().get(0), pb = b.parameters().get(0);
            Tensor before = pb.clone();
            assertFalse(pa.equal(pb));
            Ema.update(a, b, 0.9, true);
            Tensor expected = before.mul(org.dreamteacher.nn.Layers.s(0.9)).add(pa.mul(org.dreamteacher.nn.Layers.s(0.1)));
            assertTrue(pb.sub(expected).abs().max().item_double() < 1e-6);
            Ema.update(a, b, 0, true);
            TensorVector x = a.parameters(), y = b.parameters();
            for (long i = 0; i < x.size(); i++) assertTrue(x.get(i).equal(y.get(i)));
        }
    }

    @Test
    void checkpointsRebuildTheSameGenerator() throws IOException {
        Path f = dir.resolve("g.dtt");
        try (GanGenerator g = tiny().build()) {
            Checkpoints.save(f, g);
            try (GanGenerator back = Checkpoints.load(f, GanGenerator.class); PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                assertEquals(g.config(), back.config());
                torch.manual_seed(6);
                Tensor x = g.forward(g.latents(2));
                torch.manual_seed(6);
                Tensor y = back.forward(back.latents(2));
                assertTrue(x.equal(y));
            }
        }
    }

    @Test
    void minibatchStddevAddsOneChannelPerGroup() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(7);
            Tensor x = torch.randn(6, 2, 4, 4);
            Tensor y = GanDiscriminator.minibatchStddev(x, 4); // 6 images: groups of 3 (the largest divisor <= 4)
            assertArrayEquals(new long[] {6, 3, 4, 4}, y.sizes().vec().get());
            assertTrue(y.narrow(1, 0, 2).equal(x));
            // image i is in group i % 2: images 0, 2, 4 share a value, computed here by hand
            Tensor grp = x.index_select(0, torch.tensor(new long[] {0, 2, 4}));
            double expected = grp.std(new long[] {0}, false, false).mean().item_double(); // population standard deviation
            assertEquals(expected, y.get(0).get(2).mean().item_double(), 1e-4);
            assertEquals(expected, y.get(4).get(2).get(3).get(3).item_double(), 1e-4);
        }
    }

    /**
     * R1 needs the gradient of a gradient through the discriminator's guarded convolutions: its derivative with
     * respect to the weights, in float32, agrees with the same computation in float64.
     */
    @Test
    void r1SecondDerivativeMatchesFloat64() {
        DiscriminatorConfig c = tiny().discriminator();
        torch.manual_seed(8);
        try (GanDiscriminator f = c.build()) {
            torch.manual_seed(8);
            try (GanDiscriminator d = c.build(); PointerScope scope = new PointerScope()) {
                d.to(ScalarType.Double, false);
                torch.manual_seed(9);
                Tensor real = torch.randn(4, 1, 32, 32);
                Tensor xf = real.clone().set_requires_grad(true), xd = real.to(ScalarType.Double).set_requires_grad(true);
                Tensor pf = GanTrainer.r1Penalty(f.forward(xf), xf), pd = GanTrainer.r1Penalty(d.forward(xd), xd);
                assertEquals(pd.item_double(), pf.item_double(), 1e-4 * Math.abs(pd.item_double()));
                ConvolutionGuard.secondDerivatives(true); // as GanTrainer's R1 steps do
                try {
                    pf.backward();
                    pd.backward();
                } finally {
                    ConvolutionGuard.secondDerivatives(false);
                }
                TensorVector gf = f.parameters(), gd = d.parameters();
                int compared = 0;
                for (long i = 0; i < gf.size(); i++) {
                    Tensor a = gf.get(i).grad(), b = gd.get(i).grad();
                    // biases that only shift the logit (or sit behind a piecewise-linear activation) get no R1 gradient at all
                    assertEquals(b.defined(), a.defined(), "parameter " + i);
                    if (!b.defined()) continue;
                    compared++;
                    double scale = Math.max(1e-12, b.abs().max().item_double());
                    double err = a.to(ScalarType.Double).sub(b).abs().max().item_double() / scale;
                    assertTrue(err < 1e-3, "R1 weight gradient " + i + " off float64 by " + err);
                }
                assertTrue(compared >= 10, "only " + compared + " parameters got an R1 gradient");
            }
        }
    }
}
