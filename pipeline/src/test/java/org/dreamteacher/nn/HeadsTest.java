package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnTests.assertEveryParameterGetsGradient;
import static org.dreamteacher.nn.NnTests.assertRejected;
import static org.dreamteacher.nn.NnTests.assertShape;
import static org.dreamteacher.nn.NnTests.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/** FeatureRegressor, PixelInterpreter, SegmentationHead and the Dice loss. */
class HeadsTest {
    static {
        NnTests.init();
    }

    private static List<Tensor> maps(long seed, long n, long[] channels, long[] sizes) {
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < channels.length; i++) out.add(randn(seed + i, n, channels[i], sizes[i], sizes[i]));
        return out;
    }

    @Test
    void regressorOnBackboneFeaturesOfOddSize() {
        ResNet backbone = ResNetConfig.small(18, 4, 1, 0).build();
        FeatureRegressor reg = FeatureRegressorConfig.of(backbone.featureChannels(), new long[] {6, 5, 7, 3}, 8).build();
        try (PointerScope scope = new PointerScope()) {
            List<FeatureMap> f = backbone.features(randn(1, 2, 1, 33, 33));
            List<Tensor> out = reg.forwardFeatures(f);
            long[] sizes = {33, 17, 9, 5};
            long[] teacher = {6, 5, 7, 3};
            assertEquals(4, out.size());
            for (int i = 0; i < 4; i++) assertShape(out.get(i), 2, teacher[i], sizes[i], sizes[i]);
        } finally {
            reg.close();
            backbone.close();
        }
    }

    @Test
    void regressorThreeLevelsNonMultipleSizesAndGradients() {
        FeatureRegressor reg = new FeatureRegressorConfig(List.of(4L, 6L, 8L), List.of(3L, 9L, 5L), 8, List.of(1, 2, 3, 6)).build();
        try (PointerScope scope = new PointerScope()) {
            reg.train(true);
            // 15 -> 7 -> 3 is not a chain of exact halvings; rectangular maps too.
            List<Tensor> in = List.of(randn(1, 2, 4, 15, 13), randn(2, 2, 6, 7, 6), randn(3, 2, 8, 3, 2));
            List<Tensor> out = reg.forward(in);
            assertShape(out.get(0), 2, 3, 15, 13);
            assertShape(out.get(1), 2, 9, 7, 6);
            assertShape(out.get(2), 2, 5, 3, 2);
            assertEveryParameterGetsGradient(reg, NnTests.probeLoss(out));
            assertEquals(3, reg.config().levels());
        } finally {
            reg.close();
        }
    }

    /** Predictions at two of four levels; the others feed the top-down path, and every parameter trains. */
    @Test
    void regressorPredictsAtSomeLevelsAndReadsAll() {
        FeatureRegressor reg = FeatureRegressorConfig.of(new long[] {4, 6, 8, 10}, new int[] {0, 2}, new long[] {3, 5}, 8)
                .build();
        try (PointerScope scope = new PointerScope()) {
            reg.train(true);
            Tensor top = randn(4, 2, 10, 2, 2).set_requires_grad(true);
            List<Tensor> in = List.of(randn(1, 2, 4, 16, 16), randn(2, 2, 6, 8, 8), randn(3, 2, 8, 4, 4), top);
            List<Tensor> out = reg.forward(in);
            assertEquals(2, out.size());
            assertShape(out.get(0), 2, 3, 16, 16);
            assertShape(out.get(1), 2, 5, 4, 4);
            assertEveryParameterGetsGradient(reg, NnTests.probeLoss(out));
            assertTrue(top.grad().abs().sum().item_double() > 0, "the top level, predicted at no level, gets a gradient");
        } finally {
            reg.close();
        }
    }

    @Test
    void regressorChecksItsInputs() {
        FeatureRegressor reg = FeatureRegressorConfig.of(new long[] {4, 6}, new long[] {3, 3}, 8).build();
        try (PointerScope scope = new PointerScope()) {
            assertRejected("expected 2 feature levels, got 1", () -> reg.forward(List.of(randn(1, 2, 4, 8, 8))));
            assertRejected("level 1 has 5 channels, expected 6", () -> reg.forward(List.of(randn(1, 2, 4, 8, 8), randn(2, 2, 5, 4, 4))));
            reg.train(true);
            assertRejected("batch of 1", () -> reg.forward(List.of(randn(1, 1, 4, 8, 8), randn(2, 1, 6, 4, 4))));
            reg.eval();
            try (NoGradGuard ng = new NoGradGuard()) {
                assertShape(reg.forward(List.of(randn(1, 1, 4, 8, 8), randn(2, 1, 6, 4, 4))).get(0), 1, 3, 8, 8);
            }
        } finally {
            reg.close();
        }
        assertRejected("one value per output level", () -> FeatureRegressorConfig.of(new long[] {4, 6}, new long[] {3}, 8));
        assertRejected("increasing levels in 0..1", () -> FeatureRegressorConfig.of(new long[] {4, 6}, new int[] {1, 0},
                new long[] {3, 3}, 8));
        assertRejected("increasing levels in 0..1", () -> FeatureRegressorConfig.of(new long[] {4, 6}, new int[] {2},
                new long[] {3}, 8));
        assertRejected("ppmBins must be distinct", () -> new FeatureRegressorConfig(List.of(4L), List.of(4L), 8, List.of(1, 1)));
        assertRejected("channels must be in", () -> FeatureRegressorConfig.of(new long[] {4}, new long[] {3}, 0));
    }

    @Test
    void interpreterShapesPooledAndGradients() {
        PixelInterpreter net = new InterpreterConfig(List.of(16L, 12L, 8L), 12, 5, 0.1).build();
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> f = maps(10, 2, new long[] {16, 12, 8}, new long[] {8, 4, 2});
            net.train(true);
            Tensor logits = net.forward(f, 28, 28);
            assertShape(logits, 2, 5, 28, 28);
            assertShape(net.forward(f, 33, 31), 2, 5, 33, 31);
            assertShape(net.pooled(f), 2, 5);
            Tensor target = torch.randint(0, 5, new long[] {2, 28, 28});
            assertTrue(target.scalar_type().intern() == ScalarType.Long);
            assertEveryParameterGetsGradient(net, Losses.crossEntropyDice(logits, target, 5, 3.0));
            net.eval();
            try (NoGradGuard ng = new NoGradGuard()) {
                assertTrue(torch.equal(net.forward(f, 16, 16), net.forward(f, 16, 16)), "eval mode must not drop out");
            }
            assertRejected("expected 3 feature levels", () -> net.forward(f.subList(0, 2), 8, 8));
            assertRejected("output size", () -> net.forward(f, 0, 8));
        } finally {
            net.close();
        }
        assertRejected("numClasses must be >= 1", () -> InterpreterConfig.of(new long[] {8}, 0));
    }

    @Test
    void segmentationHeadSumAndConcat() {
        ResNet backbone = ResNetConfig.small(18, 4, 3, 0).build();
        for (String fuse : List.of("sum", "concat")) {
            SegmentationHead head = new SegmentationHeadConfig(
                    FeatureRegressorConfig.boxed(backbone.featureChannels()), 8, 6, fuse).build();
            try (PointerScope scope = new PointerScope()) {
                backbone.train(true);
                head.train(true);
                Tensor x = randn(20, 2, 3, 33, 33);
                Tensor logits = head.forwardFeatures(backbone.features(x), 33, 33);
                assertShape(logits, 2, 6, 33, 33);
                assertEveryParameterGetsGradient(head, NnTests.probeLoss(List.of(logits)));
            } finally {
                head.close();
            }
        }
        SegmentationHead head = SegmentationHeadConfig.forBackbone(backbone, 4).build();
        try (PointerScope scope = new PointerScope()) {
            assertShape(head.forwardFeatures(backbone.features(randn(21, 2, 3, 28, 28)), 28, 28), 2, 4, 28, 28);
        } finally {
            head.close();
            backbone.close();
        }
        assertRejected("fuse must be", () -> new SegmentationHeadConfig(List.of(4L), 8, 2, "max"));
    }

    @Test
    void diceLossHandComputed() {
        try (PointerScope scope = new PointerScope()) {
            // Pixel 0: logits (0, 0) -> p = (.5, .5); pixel 1: (ln 3, 0) -> p = (.75, .25); target (0, 1).
            // dice_0 = 2*.5 / (1.25 + 1) = 4/9; dice_1 = 2*.25 / (.75 + 1) = 2/7; loss = 1 - (4/9 + 2/7)/2.
            Tensor logits = torch.tensor(new float[] {0f, (float) Math.log(3), 0f, 0f}).reshape(1, 2, 1, 2);
            Tensor target = torch.tensor(new long[] {0, 1}).reshape(1, 1, 2);
            assertEquals(1 - (4.0 / 9 + 2.0 / 7) / 2, Losses.diceLoss(logits, target, 2).item_double(), 1e-6);

            // Three classes, class 2 absent from the target: it does not count in the mean.
            // Pixel 0: p = (1/3, 1/3, 1/3); pixel 1: logits (0, 0, ln 2) -> p = (1/4, 1/4, 1/2); target (0, 1).
            // dice_0 = (2/3) / (7/12 + 1) = 8/19, dice_1 = (1/2) / (7/12 + 1) = 6/19 -> loss = 1 - 7/19.
            Tensor l3 = torch.tensor(new float[] {0f, 0f, 0f, 0f, 0f, (float) Math.log(2)}).reshape(1, 3, 2);
            Tensor t3 = torch.tensor(new long[] {0, 1}).reshape(1, 2);
            assertEquals(12.0 / 19, Losses.diceLoss(l3, t3, 3).item_double(), 1e-6);

            // A confident correct prediction: loss ~ 0, and gradients flow.
            Tensor target4 = torch.randint(0, 4, new long[] {2, 5, 5});
            Tensor perfect = torch.one_hot(target4, 4).movedim(3, 1).to(ScalarType.Float).mul(Layers.s(40.0))
                    .set_requires_grad(true);
            Tensor loss = Losses.diceLoss(perfect, target4, 4);
            assertEquals(0.0, loss.item_double(), 1e-6);
            loss.backward();
            assertTrue(perfect.grad().defined());

            // CE + lambda * Dice.
            Tensor r = randn(30, 2, 4, 5, 5);
            double expected = torch.cross_entropy(r, target4).item_double() + 3 * Losses.diceLoss(r, target4, 4).item_double();
            assertEquals(expected, Losses.crossEntropyDice(r, target4, 4, 3.0).item_double(), 1e-5);

            assertRejected("class indices must be in [0, 4)", () -> Losses.diceLoss(r, target4.add(new Scalar(1L)), 4));
            assertRejected("int64", () -> Losses.diceLoss(r, target4.to(ScalarType.Int), 4));
            assertRejected("expected 3", () -> Losses.diceLoss(r, target4, 3));
            assertRejected("dimension 2", () -> Losses.diceLoss(r, torch.zeros(new long[] {2, 4, 5}).to(ScalarType.Long), 4));
        }
    }
}
