package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnTests.assertEveryParameterGetsGradient;
import static org.dreamteacher.nn.NnTests.assertRejected;
import static org.dreamteacher.nn.NnTests.assertShape;
import static org.dreamteacher.nn.NnTests.parameterCount;
import static org.dreamteacher.nn.NnTests.parameterNames;
import static org.dreamteacher.nn.NnTests.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

class ConvNeXtTest {
    static {
        NnTests.init();
    }

    private static final List<Integer> DEPTHS = List.of(1, 1, 2, 1);
    private static final List<Integer> DIMS = List.of(8, 16, 24, 32);

    @Test
    void tinyHasTheOfficialParameterCountAndNames() {
        ConvNeXt net = ConvNeXtConfig.tiny(3, 1000).build();
        try {
            assertEquals(28_589_128L, parameterCount(net));
            List<String> names = parameterNames(net);
            for (String n : List.of("downsample_layers.0.0.weight", "downsample_layers.0.1.weight", "downsample_layers.1.0.bias",
                    "downsample_layers.3.1.weight", "stages.2.8.dwconv.weight", "stages.2.8.norm.weight",
                    "stages.2.8.pwconv1.weight", "stages.2.8.pwconv2.bias", "stages.3.2.gamma", "norm.weight", "head.bias"))
                assertTrue(names.contains(n), n + " missing");
        } finally {
            net.close();
        }
    }

    @Test
    void featureShapesForEachStem() {
        record Case(int in, int stem, long size, long[] sizes) {}
        List<Case> cases = List.of(
                new Case(1, 1, 28, new long[] {28, 14, 7, 3}),
                new Case(3, 2, 32, new long[] {16, 8, 4, 2}),
                new Case(1, 2, 33, new long[] {16, 8, 4, 2}),
                new Case(3, 1, 33, new long[] {33, 16, 8, 4}),
                new Case(3, 4, 64, new long[] {16, 8, 4, 2}));
        for (Case c : cases) {
            ConvNeXt net = ConvNeXtConfig.of(DEPTHS, DIMS, c.in, 5, c.stem).build();
            try (PointerScope scope = new PointerScope()) {
                assertArrayEquals(new long[] {8, 16, 24, 32}, net.featureChannels());
                int s = c.stem;
                assertArrayEquals(new int[] {s, 2 * s, 4 * s, 8 * s}, net.featureStrides());
                Tensor x = randn(5, 2, c.in, c.size, c.size);
                List<FeatureMap> f = net.features(x);
                for (int i = 0; i < 4; i++) {
                    assertEquals("c" + (i + 2), f.get(i).name());
                    assertShape(f.get(i).tensor(), 2, DIMS.get(i), c.sizes[i], c.sizes[i]);
                }
                Tensor logits = net.classify(x);
                assertShape(logits, 2, 5);
                assertTrue(logits.scalar_type().intern() == ScalarType.Float);
            } finally {
                net.close();
            }
        }
    }

    @Test
    void layerScaleAndInitialisation() {
        ConvNeXt net = ConvNeXtConfig.of(DEPTHS, DIMS, 1, 4, 2).build();
        try (PointerScope scope = new PointerScope()) {
            var p = net.named_parameters(true);
            for (long i = 0; i < p.size(); i++) {
                String name = p.get(i).key().getString();
                Tensor t = p.get(i).value();
                if (name.endsWith("gamma")) assertEquals(1e-6, t.max().item_double(), 1e-12);
                if (name.endsWith("gamma")) assertEquals(1e-6, t.min().item_double(), 1e-12);
                if (name.equals("stages.2.1.pwconv1.weight")) assertEquals(0.02, t.std().item_double(), 0.002);
                if (name.equals("stages.2.1.pwconv1.bias")) assertEquals(0.0, t.abs().max().item_double());
            }
        } finally {
            net.close();
        }
    }

    @Test
    void gradientsReachEveryParameterWithDropPath() {
        ConvNeXt net = new ConvNeXtConfig(DEPTHS, DIMS, 3, 4, 2, 0.1, 1e-6).build();
        try (PointerScope scope = new PointerScope()) {
            net.train(true);
            Tensor x = randn(6, 4, 3, 16, 16);
            List<Tensor> outs = new ArrayList<>(Backbone.tensors(net.features(x)));
            outs.add(net.classify(x));
            assertEveryParameterGetsGradient(net, NnTests.probeLoss(outs));
        } finally {
            net.close();
        }
    }

    @Test
    void dropPathIsOffInEvalAndRandomInTraining() {
        ConvNeXt net = new ConvNeXtConfig(DEPTHS, DIMS, 1, 0, 2, 0.5, 1.0).build();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor x = randn(7, 4, 1, 16, 16);
            net.eval();
            Tensor a = net.features(x).get(3).tensor();
            Tensor b = net.features(x).get(3).tensor();
            assertTrue(torch.equal(a, b));
            net.train(true);
            torch.manual_seed(1);
            Tensor c = net.features(x).get(3).tensor();
            torch.manual_seed(2);
            Tensor d = net.features(x).get(3).tensor();
            assertFalse(torch.equal(c, d));
        } finally {
            net.close();
        }
    }

    @Test
    void headResetAndParameterGroups() {
        ConvNeXt net = ConvNeXtConfig.of(DEPTHS, DIMS, 1, 10, 2).build();
        try (PointerScope scope = new PointerScope()) {
            long total = parameterCount(net);
            long headSize = 32 * 2 + 32 * 10 + 10; // final LayerNorm + linear
            assertEquals(headSize, net.headParameters().stream().mapToLong(Tensor::numel).sum());
            assertEquals(total - headSize, net.backboneParameters().stream().mapToLong(Tensor::numel).sum());
            net.resetHead(2);
            assertEquals(2, net.config().numClasses());
            assertShape(net.classify(randn(8, 3, 1, 16, 16)), 3, 2);
            net.resetHead(0);
            assertTrue(net.headParameters().isEmpty());
            assertEquals(total - headSize, parameterCount(net));
            assertThrows(IllegalStateException.class, () -> net.classify(randn(8, 3, 1, 16, 16)));
        } finally {
            net.close();
        }
    }

    @Test
    void invalidConfigsAreRejected() {
        assertRejected("depths must have 4 values", () -> ConvNeXtConfig.of(List.of(1, 1, 1), DIMS, 3, 0, 4));
        assertRejected("dims must be in", () -> ConvNeXtConfig.of(DEPTHS, List.of(8, 0, 8, 8), 3, 0, 4));
        assertRejected("stemStride must be 1, 2 or 4", () -> ConvNeXtConfig.of(DEPTHS, DIMS, 3, 0, 3));
        assertRejected("dropPath", () -> new ConvNeXtConfig(DEPTHS, DIMS, 3, 0, 4, 1.0, 1e-6));
        assertRejected("inChannels", () -> ConvNeXtConfig.of(DEPTHS, DIMS, 4, 0, 4));
    }
}
