package org.dreamteacher.torch.kernels;

import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.kernels.TestArrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The cpu backend against the reference formulas in float64 on many shapes, odd and prime sizes and edge
 * cases (loss relative error <= 1e-5, gradient max-abs error <= 1e-5 × max|grad|). Each case also checks
 * that a forward-only call returns the same loss, and that the {@code float[]} form returns the same bits.
 */
class ParityTest {
    private static final TensorLossKernels CPU = TensorLossKernels.get("cpu");
    /** The same kernels on Java arrays: the same bits as on tensors. */
    private static final LossKernels ARRAYS = Backends.get("cpu");

    // ---- whitened MSE ------------------------------------------------------------------------------------

    record MseCase(String name, long[] shape, WhitenMode mode, float eps, float gradScale, float[] student,
            float[] teacher) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<MseCase> mseCases() {
        long[][] shapes = {{1, 1, 1, 1}, {2, 3, 4, 5}, {1, 1, 7, 7}, {3, 1, 1, 1}, {1, 17, 1, 1}, {4, 8, 8, 8},
                {2, 64, 16, 16}, {1, 256, 16, 16}, {5, 3, 11, 13}, {2, 31, 29, 1}, {1, 1, 97, 89}, {7, 2, 3, 3},
                {1, 3, 1, 4096}, {2, 13, 37, 41}, {3, 5, 17, 1},
                // per-pixel blocks of 2048 positions (two channels per loss pass), odd C, a short last block
                {1, 64, 64, 64}, {2, 5, 48, 48}};
        List<MseCase> cases = new ArrayList<>();
        long seed = 1;
        for (long[] shape : shapes) {
            for (WhitenMode mode : WhitenMode.values()) {
                int count = TestArrays.count(shape);
                cases.add(new MseCase(mode + " " + str(shape), shape, mode, 1e-5f, 1f,
                        TestArrays.gaussian(seed++, count, 1, 0), TestArrays.gaussian(seed++, count, 2, 0.5)));
            }
        }
        for (WhitenMode mode : WhitenMode.values()) {
            long[] shape = {3, 16, 9, 7};
            int count = TestArrays.count(shape);
            cases.add(new MseCase(mode + " magnitude 1e4", shape, mode, 1e-5f, 1f,
                    TestArrays.gaussian(seed++, count, 1e4, 0), TestArrays.gaussian(seed++, count, 1e4, -3e3)));
            cases.add(new MseCase(mode + " offset 1e4, small variance", shape, mode, 1e-5f, 1f,
                    TestArrays.gaussian(seed++, count, 1, 0), TestArrays.gaussian(seed++, count, 0.5, 1e4)));
            cases.add(new MseCase(mode + " constant teacher", shape, mode, 1e-5f, 1f,
                    TestArrays.gaussian(seed++, count, 1, 0), TestArrays.constant(count, 3.25f)));
            cases.add(new MseCase(mode + " eps 0.1, gradScale -2.5", shape, mode, 0.1f, -2.5f,
                    TestArrays.gaussian(seed++, count, 1, 0), TestArrays.gaussian(seed++, count, 0.1, 0)));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("mseCases")
    void whitenedMse(MseCase c) {
        Oracle.Expected expected = Oracle.evaluate(c.student, c.shape, c.gradScale,
                s -> ReferenceLossKernels.whitenedMseLoss(s, TestData.doubles(c.teacher, c.shape), c.mode, c.eps));
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestData.floats(c.student, c.shape);
            Tensor t = TestData.floats(c.teacher, c.shape);
            LossResult r = CPU.whitenedMse(s, t, c.mode, c.eps, c.gradScale, true);
            Oracle.assertClose(c.name, expected, r.lossValue(), TestData.toFloats(r.grad()));
            LossResult forward = CPU.whitenedMse(s, t, c.mode, c.eps, c.gradScale, false);
            assertEquals(r.lossValue(), forward.lossValue(), 0f, "forward-only loss");
            long[] d = c.shape;
            float[] grad = new float[c.student.length];
            assertEquals(r.lossValue(), ARRAYS.whitenedMse(c.student, c.teacher, (int) d[0], (int) d[1], (int) d[2],
                    (int) d[3], c.mode, c.eps, c.gradScale, grad), 0f, "array loss");
            assertArrayEquals(TestData.toFloats(r.grad()), grad, "array gradient");
        }
    }

    // ---- attention transfer ------------------------------------------------------------------------------

    record AtCase(String name, long n, long cs, long ct, long h, long w, float p, AttentionDistance distance,
            float gradScale, float[] student, float[] teacher) {
        long[] studentShape() {
            return new long[] {n, cs, h, w};
        }

        long[] teacherShape() {
            return new long[] {n, ct, h, w};
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<AtCase> atCases() {
        long[][] shapes = { // n, cs, ct, h, w
                {1, 1, 1, 1, 1}, {2, 3, 5, 4, 4}, {1, 8, 8, 7, 7}, {4, 16, 32, 8, 8}, {2, 64, 128, 16, 16},
                {3, 7, 11, 13, 17}, {1, 1, 64, 5, 5}, {5, 2, 3, 1, 1}, {2, 9, 4, 1, 31}, {1, 3, 3, 64, 64}};
        float[] pools = {1f, 2f, 3f, 3.5f};
        List<AtCase> cases = new ArrayList<>();
        long seed = 100;
        int i = 0;
        for (long[] d : shapes) {
            for (float p : pools) {
                AttentionDistance distance = AttentionDistance.values()[i++ % 2];
                cases.add(at("p=" + p + " " + distance + " " + str(d), d, p, distance, 1f,
                        TestArrays.gaussian(seed++, TestArrays.count(d[0], d[1], d[3], d[4]), 1, 0),
                        TestArrays.gaussian(seed++, TestArrays.count(d[0], d[2], d[3], d[4]), 1.5, 0.2)));
            }
        }
        long[] d = {3, 6, 10, 5, 7};
        int sCount = TestArrays.count(d[0], d[1], d[3], d[4]);
        int tCount = TestArrays.count(d[0], d[2], d[3], d[4]);
        for (AttentionDistance distance : AttentionDistance.values()) {
            cases.add(at(distance + " all-zero student maps", d, 2f, distance, 1f, new float[sCount],
                    TestArrays.gaussian(seed++, tCount, 1, 0)));
            cases.add(at(distance + " all-zero maps both", d, 2f, distance, 1f, new float[sCount], new float[tCount]));
            cases.add(at(distance + " magnitude 1e4 p=3.5", d, 3.5f, distance, 1f,
                    TestArrays.gaussian(seed++, sCount, 1e4, 0), TestArrays.gaussian(seed++, tCount, 1e4, 0)));
            cases.add(at(distance + " p=0.5", d, 0.5f, distance, 1f, TestArrays.gaussian(seed++, sCount, 1, 0),
                    TestArrays.gaussian(seed++, tCount, 1, 0)));
            cases.add(at(distance + " gradScale 10", d, 2f, distance, 10f, TestArrays.gaussian(seed++, sCount, 1, 0),
                    TestArrays.gaussian(seed++, tCount, 1, 0)));
        }
        return cases.stream();
    }

    private static AtCase at(String name, long[] d, float p, AttentionDistance distance, float gradScale,
            float[] student, float[] teacher) {
        return new AtCase(name, d[0], d[1], d[2], d[3], d[4], p, distance, gradScale, student, teacher);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("atCases")
    void attentionTransfer(AtCase c) {
        float eps = LossKernels.ATTENTION_EPS;
        Oracle.Expected expected = Oracle.evaluate(c.student, c.studentShape(), c.gradScale,
                s -> ReferenceLossKernels.attentionTransferLoss(s, TestData.doubles(c.teacher, c.teacherShape()), c.p,
                        c.distance, eps));
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestData.floats(c.student, c.studentShape());
            Tensor t = TestData.floats(c.teacher, c.teacherShape());
            LossResult r = CPU.attentionTransfer(s, t, c.p, c.distance, eps, c.gradScale, true);
            Oracle.assertClose(c.name, expected, r.lossValue(), TestData.toFloats(r.grad()));
            LossResult forward = CPU.attentionTransfer(s, t, c.p, c.distance, eps, c.gradScale, false);
            assertEquals(r.lossValue(), forward.lossValue(), 0f, "forward-only loss");
            float[] grad = new float[c.student.length];
            assertEquals(r.lossValue(), ARRAYS.attentionTransfer(c.student, (int) c.cs, c.teacher, (int) c.ct, (int) c.n,
                    (int) c.h, (int) c.w, c.p, c.distance, eps, c.gradScale, grad), 0f, "array loss");
            assertArrayEquals(TestData.toFloats(r.grad()), grad, "array gradient");
        }
    }

    // ---- soft-target cross entropy -----------------------------------------------------------------------

    record CeCase(String name, long[] shape, float temperature, float gradScale, float[] student, float[] teacher) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<CeCase> ceCases() {
        long[][] shapes = {{1, 1}, {4, 10}, {64, 10}, {3, 1000}, {2, 1000, 3}, {1, 21, 4096}, {2, 5, 64, 64},
                {7, 3, 17}, {16, 21, 8, 8}, {1, 2}, {5, 7, 11, 13}, {1, 1, 9}, {3, 997, 2},
                // rows of K >= 32 contiguous classes: lane tails (K % 16 != 0) and 256-class chunk ends
                {5, 32}, {4, 33}, {2, 47}, {3, 256}, {3, 257}, {2, 513}, {4, 1001}};
        float[] taus = {0.5f, 1f, 4f};
        List<CeCase> cases = new ArrayList<>();
        long seed = 1000;
        int i = 0;
        for (long[] shape : shapes) {
            for (int j = 0; j < 3; j++) {
                float tau = taus[i++ % 3];
                int count = TestArrays.count(shape);
                cases.add(new CeCase("tau=" + tau + " " + str(shape), shape, tau, 1f,
                        TestArrays.gaussian(seed++, count, 3, 0), TestArrays.gaussian(seed++, count, 2, 1)));
            }
        }
        long[] shape = {6, 12, 5};
        int count = TestArrays.count(shape);
        for (float tau : taus) {
            cases.add(new CeCase("tau=" + tau + " magnitude 1e4", shape, tau, 1f,
                    TestArrays.gaussian(seed++, count, 1e4, 0), TestArrays.gaussian(seed++, count, 1e4, 0)));
        }
        cases.add(new CeCase("identical logits", shape, 2f, 1f, TestArrays.gaussian(seed, count, 1, 0),
                TestArrays.gaussian(seed, count, 1, 0)));
        cases.add(new CeCase("gradScale 16 (tau^2)", shape, 4f, 16f, TestArrays.gaussian(seed++, count, 1, 0),
                TestArrays.gaussian(seed++, count, 1, 0)));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("ceCases")
    void softTargetCe(CeCase c) {
        Oracle.Expected expected = Oracle.evaluate(c.student, c.shape, c.gradScale,
                s -> ReferenceLossKernels.softTargetCeLoss(s, TestData.doubles(c.teacher, c.shape), c.temperature));
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestData.floats(c.student, c.shape);
            Tensor t = TestData.floats(c.teacher, c.shape);
            LossResult r = CPU.softTargetCe(s, t, c.temperature, c.gradScale, true);
            Oracle.assertClose(c.name, expected, r.lossValue(), TestData.toFloats(r.grad()));
            LossResult forward = CPU.softTargetCe(s, t, c.temperature, c.gradScale, false);
            assertEquals(r.lossValue(), forward.lossValue(), 0f, "forward-only loss");
            int positions = c.student.length / (int) (c.shape[0] * c.shape[1]);
            float[] grad = new float[c.student.length];
            assertEquals(r.lossValue(), ARRAYS.softTargetCe(c.student, c.teacher, (int) c.shape[0], (int) c.shape[1],
                    positions, c.temperature, c.gradScale, grad), 0f, "array loss");
            assertArrayEquals(TestData.toFloats(r.grad()), grad, "array gradient");
        }
    }

    static String str(long[] shape) {
        return java.util.Arrays.toString(shape);
    }
}
