package org.dreamteacher.diffusion;

import static org.dreamteacher.diffusion.DiffusionTestSupport.allFinite;
import static org.dreamteacher.diffusion.DiffusionTestSupport.longs;
import static org.dreamteacher.diffusion.DiffusionTestSupport.maxAbs;
import static org.dreamteacher.diffusion.DiffusionTestSupport.perturb;
import static org.dreamteacher.diffusion.DiffusionTestSupport.shape;
import static org.dreamteacher.diffusion.DiffusionTestSupport.toFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.FeatureTeacher;
import org.junit.jupiter.api.Test;

/** Schedules against closed forms, the forward process, training, samplers and encoding. */
class GaussianDiffusionTest {

    @Test
    void linearScheduleMatchesClosedForm() {
        NoiseSchedule s = NoiseSchedule.linear(1000);
        assertEquals(1000, s.timesteps());
        assertEquals(1e-4, s.beta(0), 1e-18);
        assertEquals(0.02, s.beta(999), 1e-18);
        assertEquals(1e-4 + 500 * (0.02 - 1e-4) / 999, s.beta(500), 1e-15);
        assertEquals(0.9999, s.alphaBar(0), 1e-15);
        // independent: alpha_bar_t = exp(sum log(1 - beta_i))
        for (int t : new int[] {0, 149, 499, 999}) {
            double logSum = 0;
            for (int i = 0; i <= t; i++) logSum += Math.log1p(-(1e-4 + i * (0.02 - 1e-4) / 999));
            assertEquals(Math.exp(logSum), s.alphaBar(t), Math.exp(logSum) * 1e-10, "alpha_bar at " + t);
        }
        // guided-diffusion (NumPy float64) values
        assertEquals(4.035829765375676e-05, s.alphaBar(999), 1e-17);
        assertEquals(0.07858724288177824, s.alphaBar(499), 1e-15);
        // rescaled for T = 100: same noise range
        NoiseSchedule s100 = NoiseSchedule.linear(100);
        assertEquals(1e-3, s100.beta(0), 1e-17);
        assertEquals(0.2, s100.beta(99), 1e-16);
        double[] ab = s.alphasCumprod();
        try (PointerScope scope = new PointerScope()) {
            Tensor t = s.alphasCumprodTensor();
            assertEquals(torch.ScalarType.Double, t.scalar_type().intern());
            assertEquals(ab[999], t.get(999).item_double());
        }
    }

    @Test
    void cosineScheduleMatchesClosedForm() {
        NoiseSchedule s = NoiseSchedule.cosine(1000);
        java.util.function.DoubleUnaryOperator f = u -> Math.pow(Math.cos((u + 0.008) / 1.008 * Math.PI / 2), 2);
        // without clipping, alpha_bar_t telescopes to f((t + 1) / T) / f(0)
        for (int t : new int[] {0, 100, 499, 900}) assertEquals(f.applyAsDouble((t + 1) / 1000.0) / f.applyAsDouble(0), s.alphaBar(t), 1e-12, "t = " + t);
        assertEquals(0.999958715775178, s.alphaBar(0), 1e-15);
        assertEquals(0.4938435904406382, s.alphaBar(499), 1e-14);
        assertEquals(0.999, s.beta(999), 0.0, "the last beta is clipped");
        for (double b : s.betas()) assertTrue(b > 0 && b <= 0.999);
    }

    @Test
    void posteriorCoefficients() {
        NoiseSchedule s = NoiseSchedule.linear(1000);
        assertEquals(0.0, s.posteriorVariance(0));
        assertEquals(Math.log(s.posteriorVariance(1)), s.posteriorLogVarianceClipped(0));
        int t = 500;
        double ab = s.alphaBar(t), abPrev = s.alphaBar(t - 1), beta = s.beta(t);
        assertEquals(abPrev, s.alphaBarPrev(t));
        assertEquals(beta * (1 - abPrev) / (1 - ab), s.posteriorVariance(t), 1e-18);
        assertEquals(Math.log(beta * (1 - abPrev) / (1 - ab)), s.posteriorLogVarianceClipped(t), 1e-12);
        // at the mean of x_t (sqrt(ab) x0), the posterior mean is the mean of x_{t-1}: sqrt(ab') x0
        assertEquals(Math.sqrt(abPrev), s.posteriorMeanCoef1(t) + s.posteriorMeanCoef2(t) * Math.sqrt(ab), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> s.alphaBar(1000));
    }

    @Test
    void qSampleIsTheClosedForm() {
        GaussianDiffusion d = DiffusionConfig.of(DiffusionTestSupport.tinyConfig()).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor x0 = DiffusionTestSupport.patterns(3, 16);
            Tensor eps = new Noise(1).normal(3, 1, 16, 16);
            int[] ts = {0, 150, 999};
            Tensor xt = d.qSample(x0, longs(0, 150, 999), eps);
            float[] a = toFloats(x0), e = toFloats(eps), y = toFloats(xt);
            for (int i = 0; i < y.length; i++) {
                int t = ts[i / 256];
                double expected = Math.sqrt(d.schedule().alphaBar(t)) * a[i] + Math.sqrt(1 - d.schedule().alphaBar(t)) * e[i];
                assertEquals(expected, y[i], 1e-5);
            }
            assertThrows(IllegalArgumentException.class, () -> d.qSample(x0, longs(0, 1, 1000), eps));
            assertThrows(IllegalArgumentException.class, () -> d.qSample(x0, longs(0, 1), eps));
        }
    }

    /** A tiny U-Net memorising 8 patterns: the epsilon MSE must at least halve within 200 AdamW steps. */
    @Test
    void trainingLossFalls() {
        torch.manual_seed(1);
        GaussianDiffusion d = DiffusionConfig.of(DiffusionTestSupport.tinyConfig()).build();
        d.train(true);
        AdamW opt = new AdamW(d.parameters(), new AdamWOptions(3e-3));
        Noise noise = new Noise(2);
        Tensor x0 = DiffusionTestSupport.patterns(8, 16);
        List<Double> losses = new ArrayList<>();
        int steps = 200;
        for (int i = 0; i < steps; i++) {
            try (PointerScope scope = new PointerScope()) {
                opt.zero_grad();
                Tensor loss = d.trainingLoss(x0, noise);
                loss.backward();
                opt.step();
                losses.add(loss.item_double());
            }
        }
        double first = losses.subList(0, 10).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = losses.subList(steps - 10, steps).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        System.out.println("trainingLossFalls: mean of the first 10 losses " + first + ", of the last 10 " + last);
        assertTrue(last <= 0.5 * first, "loss went from " + first + " to " + last);
    }

    @Test
    void samplersAreDeterministicGivenASeed() {
        UNetConfig c = DiffusionTestSupport.tinyConfig();
        GaussianDiffusion d = new DiffusionConfig(c, 40, "linear").build();
        perturb(d, 3, 0.05);
        d.train(true);
        try (PointerScope scope = new PointerScope()) {
            List<Integer> calls = new ArrayList<>();
            Tensor a = d.sampleDdpm(2, 42, null, (done, total) -> calls.add(done * 1000 + total));
            assertEquals(40, calls.size());
            assertEquals(1 * 1000 + 40, calls.get(0));
            assertEquals(40 * 1000 + 40, calls.get(39));
            assertTrue(d.is_training() && d.unet().is_training(), "the training mode is restored");
            Tensor b = d.sampleDdpm(2, 42, null);
            Tensor other = d.sampleDdpm(2, 43);
            assertArrayEquals(new long[] {2, 1, 16, 16}, shape(a));
            assertTrue(torch.equal(a, b), "same seed, same DDPM samples");
            assertFalse(torch.equal(a, other), "another seed, other samples");
            assertTrue(maxAbs(a) <= 1.0 && allFinite(a));

            for (double eta : new double[] {0.0, 0.7}) {
                Tensor p = d.sampleDdim(2, 8, eta, 42);
                Tensor q = d.sampleDdim(2, 8, eta, 42);
                Tensor r = d.sampleDdim(2, 8, eta, 44);
                assertTrue(torch.equal(p, q), "same seed, same DDIM samples (eta " + eta + ")");
                assertFalse(torch.equal(p, r), "another seed, other DDIM samples (eta " + eta + ")");
                assertTrue(maxAbs(p) <= 1.0 && allFinite(p));
            }
            assertFalse(torch.equal(d.sampleDdim(2, 8, 0.0, 42), d.sampleDdim(2, 8, 0.7, 42)), "eta adds noise");
            assertArrayEquals(new int[] {0, 5, 10, 15, 20, 25, 30, 35}, GaussianDiffusion.ddimTimesteps(40, 8));
            assertArrayEquals(new int[] {0, 13, 26}, GaussianDiffusion.ddimTimesteps(40, 3));
            assertThrows(IllegalArgumentException.class, () -> d.sampleDdim(2, 41, 0.0, 1));
            assertThrows(IllegalArgumentException.class, () -> d.sampleDdim(2, 4, -1.0, 1));
        }
    }

    @Test
    void conditionalSamplingUsesLabels() {
        UNetConfig c = DiffusionTestSupport.tinyConfig().withNumClasses(3);
        GaussianDiffusion d = new DiffusionConfig(c, 30, "cosine").build();
        perturb(d, 4, 0.1);
        try (PointerScope scope = new PointerScope()) {
            Tensor a = d.sampleDdim(2, 5, 0.0, 9, longs(0, 1), null);
            Tensor b = d.sampleDdim(2, 5, 0.0, 9, longs(2, 2), null);
            assertFalse(torch.equal(a, b), "the class changes the sample");
            assertThrows(IllegalArgumentException.class, () -> d.sampleDdim(2, 5, 0.0, 9));
            Tensor loss = d.trainingLoss(DiffusionTestSupport.patterns(2, 16), new Noise(1), longs(0, 2));
            assertTrue(loss.item_double() > 0);
        }
    }

    @Test
    void encodeNoisesAndTapsOnce() {
        UNetConfig c = DiffusionTestSupport.tinyConfig().withTaps(List.of(0, 3));
        GaussianDiffusion d = DiffusionConfig.of(c).build();
        perturb(d, 5, 0.05);
        try (PointerScope scope = new PointerScope()) {
            Tensor x0 = DiffusionTestSupport.patterns(4, 16);
            List<FeatureMap> f = d.encode(x0, 150, new Noise(7));
            assertEquals(List.of("out0", "out3"), f.stream().map(FeatureMap::name).toList());
            assertEquals(List.of(2, 1), f.stream().map(FeatureMap::stride).toList());
            assertArrayEquals(new long[] {4, 16, 8, 8}, shape(f.get(0).tensor()));
            assertArrayEquals(new long[] {4, 8, 16, 16}, shape(f.get(1).tensor()));
            assertFalse(f.get(0).tensor().requires_grad(), "teacher features carry no graph");
            assertTrue(torch.equal(f.get(1).tensor(), d.encode(x0, 150, new Noise(7)).get(1).tensor()), "same seed, same features");
            Noise shared = new Noise(7);
            d.encode(x0, 150, shared);
            assertFalse(torch.equal(f.get(1).tensor(), d.encode(x0, 150, shared).get(1).tensor()), "fresh noise on every call");
            // the static form with the U-Net as a plain FeatureTeacher gives the same features
            List<FeatureMap> g = GaussianDiffusion.encode(d.unet(), d.schedule(), x0, 150, new Noise(7));
            assertTrue(torch.equal(f.get(0).tensor(), g.get(0).tensor()));

            // any teacher sees x_t = sqrt(ab) x0 + sqrt(1 - ab) eps and t
            Tensor[] seen = new Tensor[2];
            FeatureTeacher probe = new FeatureTeacher() {
                @Override
                public List<FeatureMap> features(Tensor xt, Tensor t) {
                    seen[0] = xt;
                    seen[1] = t;
                    return List.of(new FeatureMap("x", xt, 1));
                }

                @Override
                public long inChannels() {
                    return 1;
                }
            };
            GaussianDiffusion.encode(probe, d.schedule(), x0, 999, new Noise(8));
            Tensor expected = d.qSample(x0, longs(999, 999, 999, 999), new Noise(8).normal(4, 1, 16, 16));
            assertTrue(seen[0].allclose(expected, 1e-6, 1e-6, false));
            assertArrayEquals(new long[] {999, 999, 999, 999}, new long[] {seen[1].get(0).item_long(), seen[1].get(1).item_long(),
                    seen[1].get(2).item_long(), seen[1].get(3).item_long()});
            assertThrows(IllegalArgumentException.class, () -> d.encode(x0, 1000, new Noise(1)));
            assertThrows(IllegalArgumentException.class, () -> GaussianDiffusion.encode(probe, d.schedule(), new Noise(1).normal(1, 3, 16, 16), 5, new Noise(1)));
        }
    }
}
