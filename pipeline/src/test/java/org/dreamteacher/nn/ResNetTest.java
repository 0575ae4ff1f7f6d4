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
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

class ResNetTest {
    static {
        NnTests.init();
    }

    @Test
    void parameterCountsMatchTorchvision() {
        int[][] cases = {{18, 11_689_512}, {34, 21_797_672}, {50, 25_557_032}};
        for (int[] c : cases) {
            ResNet net = ResNetConfig.standard(c[0], 3, 1000).build();
            try {
                assertEquals(c[1], parameterCount(net), "resnet" + c[0]);
            } finally {
                net.close();
            }
        }
    }

    @Test
    void namesFollowTorchvision() {
        ResNet net = ResNetConfig.standard(50, 3, 10).withWidth(8).build();
        try {
            List<String> names = parameterNames(net);
            for (String n : List.of("conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv3.weight",
                    "layer1.0.downsample.0.weight", "layer1.0.downsample.1.weight", "layer4.2.bn3.bias", "fc.weight", "fc.bias"))
                assertTrue(names.contains(n), n + " missing from " + names);
            assertFalse(names.contains("conv1.bias"));
        } finally {
            net.close();
        }
    }

    @Test
    void initialisationAsTorchvision() {
        ResNet net = ResNetConfig.standard(18, 3, 10).build();
        try (PointerScope scope = new PointerScope()) {
            var p = net.named_parameters(true);
            for (long i = 0; i < p.size(); i++) {
                String name = p.get(i).key().getString();
                Tensor t = p.get(i).value();
                if (name.equals("layer3.0.conv2.weight")) {
                    // kaiming normal, fan_out = 256 * 3 * 3, gain sqrt(2): std = sqrt(2 / 2304)
                    double std = t.std().item_double();
                    assertEquals(Math.sqrt(2.0 / 2304), std, 0.02 * Math.sqrt(2.0 / 2304));
                    assertEquals(0.0, t.mean().item_double(), 1e-3);
                }
                if (name.equals("layer2.1.bn2.weight")) assertEquals(1.0, t.min().item_double());
                if (name.equals("layer2.1.bn2.bias")) assertEquals(0.0, t.abs().max().item_double());
            }
        } finally {
            net.close();
        }
    }

    @Test
    void featureShapesAndStrides() {
        record Case(int depth, int width, int in, boolean small, long size, long[] expectedSizes) {}
        List<Case> cases = List.of(
                new Case(18, 8, 1, true, 28, new long[] {28, 14, 7, 4}),
                new Case(18, 8, 3, true, 32, new long[] {32, 16, 8, 4}),
                new Case(34, 4, 1, true, 33, new long[] {33, 17, 9, 5}),
                new Case(50, 4, 3, true, 33, new long[] {33, 17, 9, 5}),
                new Case(18, 4, 3, false, 64, new long[] {16, 8, 4, 2}),
                new Case(50, 4, 1, false, 33, new long[] {9, 5, 3, 2}));
        for (Case c : cases) {
            ResNet net = new ResNetConfig(c.depth, c.width, c.in, 7, c.small).build();
            try (PointerScope scope = new PointerScope()) {
                int e = c.depth == 50 ? 4 : 1;
                long w = c.width;
                long[] channels = {w * e, 2 * w * e, 4 * w * e, 8 * w * e};
                assertArrayEquals(channels, net.featureChannels());
                assertArrayEquals(c.small ? new int[] {1, 2, 4, 8} : new int[] {4, 8, 16, 32}, net.featureStrides());
                Tensor x = randn(1, 2, c.in, c.size, c.size);
                List<FeatureMap> f = net.features(x);
                assertEquals(4, f.size());
                for (int i = 0; i < 4; i++) {
                    assertEquals("c" + (i + 2), f.get(i).name());
                    assertEquals(net.featureStrides()[i], f.get(i).stride());
                    assertShape(f.get(i).tensor(), 2, channels[i], c.expectedSizes[i], c.expectedSizes[i]);
                }
                assertShape(net.classify(x), 2, 7);
                assertShape(net.pooledFeatures(x), 2, channels[3]);
            } finally {
                net.close();
            }
        }
    }

    @Test
    void gradientsReachEveryParameter() {
        for (int depth : new int[] {18, 50}) {
            ResNet net = ResNetConfig.small(depth, 4, 1, 5).build();
            try (PointerScope scope = new PointerScope()) {
                net.train(true);
                Tensor x = randn(2, 2, 1, 16, 16);
                List<Tensor> outs = new ArrayList<>(Backbone.tensors(net.features(x)));
                outs.add(net.classify(x));
                assertEveryParameterGetsGradient(net, NnTests.probeLoss(outs));
            } finally {
                net.close();
            }
        }
    }

    @Test
    void headResetAndParameterGroups() {
        ResNet net = ResNetConfig.small(18, 4, 1, 10).build();
        try (PointerScope scope = new PointerScope()) {
            long total = parameterCount(net);
            List<Tensor> head = net.headParameters();
            List<Tensor> body = net.backboneParameters();
            assertEquals(2, head.size());
            assertEquals(32 * 10 + 10, head.stream().mapToLong(Tensor::numel).sum());
            assertEquals(total, body.stream().mapToLong(Tensor::numel).sum() + 32 * 10 + 10);

            net.resetHead(3);
            assertEquals(3, net.numClasses());
            assertEquals(3, net.config().numClasses());
            Tensor x = randn(3, 2, 1, 12, 12);
            assertShape(net.classify(x), 2, 3);
            assertEquals(32 * 3 + 3, net.headParameters().stream().mapToLong(Tensor::numel).sum());
            assertEquals(body.size(), net.backboneParameters().size());

            net.freezeBackbone(true);
            for (Tensor p : net.backboneParameters()) assertFalse(p.requires_grad());
            for (Tensor p : net.headParameters()) assertTrue(p.requires_grad());
            net.classify(x).sum().backward();
            for (Tensor p : net.headParameters()) assertTrue(p.grad().defined());
            for (Tensor p : net.backboneParameters()) assertFalse(p.grad().defined());
            net.freezeBackbone(false);
            for (Tensor p : net.backboneParameters()) assertTrue(p.requires_grad());

            net.resetHead(0);
            assertEquals(0, net.numClasses());
            assertTrue(net.headParameters().isEmpty());
            assertThrows(IllegalStateException.class, () -> net.classify(x));
            assertShape(net.pooledFeatures(x), 2, 32);
        } finally {
            net.close();
        }
    }

    @Test
    void invalidConfigsAndInputsAreRejected() {
        assertRejected("depth must be 18, 34 or 50", () -> new ResNetConfig(101, 64, 3, 10, false));
        assertRejected("width", () -> new ResNetConfig(18, 0, 3, 10, false));
        assertRejected("inChannels must be 1 or 3", () -> new ResNetConfig(18, 64, 2, 10, false));
        assertRejected("numClasses", () -> new ResNetConfig(18, 64, 3, -1, false));
        ResNet net = ResNetConfig.small(18, 4, 3, 0).build();
        try (PointerScope scope = new PointerScope()) {
            assertRejected("has 1 channels, expected 3", () -> net.features(randn(4, 2, 1, 8, 8)));
            assertRejected("4-D", () -> net.features(randn(4, 3, 8, 8)));
            assertRejected("numClasses must be >= 0", () -> net.resetHead(-2));
        } finally {
            net.close();
        }
    }
}
