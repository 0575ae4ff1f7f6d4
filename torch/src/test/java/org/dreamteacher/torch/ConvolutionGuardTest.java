package org.dreamteacher.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/** The guard's padding is an internal detail (same math), and every plan it hands out is right here. */
class ConvolutionGuardTest {
    @Test
    void paddedChannelsComputeTheSameConvolution() {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            // float64: no oneDNN, and exact enough to show the zero channels change nothing.
            for (long[] s : new long[][] {{5, 3, 3, 1, 1, 1}, {20, 11, 1, 2, 0, 1}, {1, 32, 3, 1, 1, 1}, {12, 12, 7, 1, 3, 12}}) {
                var shape = new ConvolutionGuard.ConvShape(s[0], s[1], s[2], s[3], s[4], s[5], true);
                Tensor x = torch.randn(3, s[0], 9, 10).to(ScalarType.Double);
                Tensor w = torch.randn(s[1], s[0] / s[5], s[2], s[2]).to(ScalarType.Double);
                Tensor b = torch.randn(s[1]).to(ScalarType.Double);
                Tensor plain = torch.conv2d(x, w, new TensorOptional(b), new long[] {s[3]}, new long[] {s[4]}, new long[] {1}, s[5]);
                var pad = new ConvolutionGuard.Route(s[5] == 1 ? 16 - s[0] % 16 : 4, s[5] == 1 ? 16 - s[1] % 16 : 4);
                Tensor padded = GuardedConv2d.run(x, w, b, shape, pad);
                assertEquals(plain.sizes().vec().get().length, padded.sizes().vec().get().length);
                assertTrue(padded.is_contiguous());
                double diff = padded.sub(plain).abs().max().item_double();
                assertTrue(diff < 1e-12, shape + " padded by " + pad + ": max diff " + diff);
            }
        }
    }

    @Test
    void checkingAShapeLeavesLibtorchsRandomGeneratorAlone() {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            // The first build of this shape runs the check; the second finds it cached. A seeded model must not care.
            torch.manual_seed(5);
            GuardedConv2d first = new GuardedConv2d(29, 5, 3, 1, 1, 1, true, options(29, 5));
            Tensor after1 = torch.randn(4);
            torch.manual_seed(5);
            GuardedConv2d second = new GuardedConv2d(29, 5, 3, 1, 1, 1, true, options(29, 5));
            Tensor after2 = torch.randn(4);
            assertTrue(first.weight().equal(second.weight()), "same initial weights");
            assertTrue(after1.equal(after2), "same generator state after construction");
        }
    }

    private static org.bytedeco.pytorch.Conv2dOptions options(long in, long out) {
        var o = new org.bytedeco.pytorch.Conv2dOptions(in, out, new org.bytedeco.javacpp.LongPointer(3, 3));
        o.padding().put(new org.bytedeco.javacpp.LongPointer(1, 1));
        return o;
    }

    @Test
    void wholeBlocksLeaveNoPartlyFilledBlockBeforeIm2col() {
        for (long[] c : new long[][] {{1, 32}, {3, 64}, {32, 1}, {10, 3}, {40, 11}, {48, 48}, {16, 16}, {20, 20}}) {
            var shape = new ConvolutionGuard.ConvShape(c[0], c[1], 3, 1, 1, 1, true);
            List<ConvolutionGuard.Route> routes = ConvolutionGuard.candidates(shape, true);
            assertEquals(ConvolutionGuard.Route.IM2COL, routes.get(routes.size() - 1), shape + ": " + routes);
            for (var r : routes.subList(0, routes.size() - 1)) {
                assertEquals(0, (c[0] + r.in()) % 16, shape + ": " + r);
                assertEquals(0, (c[1] + r.out()) % 16, shape + ": " + r);
            }
            assertEquals(2, routes.size(), "one oneDNN route (as it is when already whole, else padded), then im2col: " + routes);
            // Without whole blocks the fastest routes come first: as it is, then partial paddings, then both.
            List<ConvolutionGuard.Route> lenient = ConvolutionGuard.candidates(shape, false);
            assertEquals(ConvolutionGuard.Route.NONE, lenient.get(0));
            assertEquals(lenient.size(), Set.copyOf(lenient).size(), "no route twice: " + lenient);
            assertTrue(lenient.containsAll(routes), lenient + " has " + routes);
        }
        // Depthwise pads input and output together and has no im2col; other grouped shapes run as they are.
        assertEquals(List.of(new ConvolutionGuard.Route(12, 12)), ConvolutionGuard.candidates(new ConvolutionGuard.ConvShape(20, 20, 7, 1, 3, 20, true), true));
        assertEquals(List.of(ConvolutionGuard.Route.NONE), ConvolutionGuard.candidates(new ConvolutionGuard.ConvShape(20, 40, 3, 1, 1, 4, true), true));
        assertTrue(ConvolutionGuard.atMostAvx2("avx2") && ConvolutionGuard.atMostAvx2("SSE41") && !ConvolutionGuard.atMostAvx2("AVX512_CORE")
                && !ConvolutionGuard.atMostAvx2(null) && !ConvolutionGuard.atMostAvx2("ALL"));
    }

    @Test
    void im2colComputesTheSameConvolution() {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            for (long[] s : new long[][] {{5, 3, 3, 1, 1}, {20, 11, 1, 2, 0}, {3, 8, 5, 2, 2}}) {
                var shape = new ConvolutionGuard.ConvShape(s[0], s[1], s[2], s[3], s[4], 1, true);
                Tensor x = torch.randn(2, s[0], 9, 11).to(ScalarType.Double);
                Tensor w = torch.randn(s[1], s[0], s[2], s[2]).to(ScalarType.Double);
                Tensor b = torch.randn(s[1]).to(ScalarType.Double);
                Tensor plain = torch.conv2d(x, w, new TensorOptional(b), new long[] {s[3]}, new long[] {s[4]}, new long[] {1}, 1);
                Tensor im2col = GuardedConv2d.run(x, w, b, shape, ConvolutionGuard.Route.IM2COL);
                assertArrayEquals(plain.sizes().vec().get(), im2col.sizes().vec().get(), shape.toString());
                double diff = im2col.sub(plain).abs().max().item_double();
                assertTrue(diff < 1e-12, shape + " by im2col: max diff " + diff);
            }
        }
    }

    @Test
    void everyPlanIsRightOnThisMachine() {
        // The U-Net's output convolution (Cout 1) and a 10-class 1x1 head: wrong as they are on AMD family 26.
        for (var shape : new ConvolutionGuard.ConvShape[] {new ConvolutionGuard.ConvShape(32, 1, 3, 1, 1, 1, true),
            new ConvolutionGuard.ConvShape(24, 10, 1, 1, 0, 1, true), new ConvolutionGuard.ConvShape(16, 32, 3, 2, 1, 1, false)}) {
            ConvolutionGuard.Plan plan = ConvolutionGuard.plan(shape);
            assertTrue(ConvolutionGuard.check(shape, plan.gradInput()).allRight(), shape + " with " + plan.gradInput());
            ConvolutionGuard.Errors noGrad = ConvolutionGuard.check(shape, plan.noGradInput());
            assertTrue(noGrad.forwardAndWeightRight(), shape + " with " + plan.noGradInput() + ": " + noGrad.describe());
        }
        assertTrue(ConvolutionGuard.checked().size() >= 3);
        assertTrue(ConvolutionGuard.status().contains("checked against float64"), ConvolutionGuard.status());
    }
}
