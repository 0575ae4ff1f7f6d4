package org.dreamteacher.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.dreamteacher.djl.Reference.ValueAndGradient;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.WhitenMode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Each loss against the same formula in DJL's own NDArray operations on DJL's PyTorch engine: loss and gradient
 * with respect to the student within 1e-4 relative, at several shapes (odd sizes, differing channels for attention
 * transfer, logits with and without spatial axes).
 */
class LossesMatchDjlTest {
    private static NDManager manager;

    @BeforeAll
    static void engine() {
        Engine engine = Engine.getEngine("PyTorch");
        engine.setRandomSeed(19);
        manager = engine.newBaseManager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    /** Features with a per-sample offset and scale, so that whitening has work to do. */
    private static NDArray features(long... shape) {
        NDArray x = manager.randomNormal(new Shape(shape));
        NDArray offset = manager.randomUniform(-2f, 2f, new Shape(shape[0], 1, 1, 1));
        NDArray scale = manager.randomUniform(0.5f, 3f, new Shape(shape[0], 1, 1, 1));
        return x.mul(scale).add(offset);
    }

    @ParameterizedTest(name = "({0},{1},{2},{3}) {4}")
    @CsvSource({
        "2, 3, 4, 5, PER_SAMPLE", "2, 3, 4, 5, PER_PIXEL",
        "1, 1, 7, 3, PER_SAMPLE", "3, 17, 5, 9, PER_PIXEL",
        "4, 64, 8, 8, PER_SAMPLE", "5, 33, 1, 11, PER_PIXEL"
    })
    void whitenedMse(long n, long c, long h, long w, WhitenMode mode) {
        NDArray s = features(n, c, h, w), t = features(n, c, h, w);
        ValueAndGradient expected = Reference.run(s, t, (x, y) -> Reference.whitenedMse(x, y, mode, 1e-5f));
        ValueAndGradient actual = Reference.kernel(s, t, new WhitenedMseLoss(mode));
        Reference.assertClose(expected, actual, "whitened MSE " + s.getShape() + " " + mode);
    }

    @Test
    void whitenedMseWithEpsAndScale() {
        NDArray s = features(3, 5, 4, 4), t = features(3, 5, 4, 4).mul(1e-3f); // eps matters at this scale
        ValueAndGradient expected = Reference.run(s, t,
                (x, y) -> Reference.whitenedMse(x, y, WhitenMode.PER_SAMPLE, 1e-4f).mul(2.5f));
        ValueAndGradient actual = Reference.kernel(s, t, new WhitenedMseLoss("mse", WhitenMode.PER_SAMPLE, 1e-4f, 2.5f));
        Reference.assertClose(expected, actual, "whitened MSE eps 1e-4 scale 2.5");
    }

    @ParameterizedTest(name = "({0},{1}->{2},{3},{4}) p={5} {6}")
    @CsvSource({
        "2, 3, 3, 4, 5, 2, SQUARED", "2, 3, 3, 4, 5, 2, NORM",
        "3, 8, 16, 5, 7, 2, SQUARED", "3, 16, 5, 7, 3, 2, NORM",
        "1, 1, 9, 1, 13, 2, SQUARED", "4, 6, 12, 6, 6, 3, SQUARED",
        "2, 7, 4, 3, 3, 1.5, NORM"
    })
    void attentionTransfer(long n, long cs, long ct, long h, long w, float p, AttentionDistance distance) {
        NDArray s = features(n, cs, h, w), t = features(n, ct, h, w);
        ValueAndGradient expected = Reference.run(s, t, (x, y) -> Reference.attentionTransfer(x, y, p, distance, 1e-12f));
        ValueAndGradient actual = Reference.kernel(s, t, new AttentionTransferLoss(p, distance));
        Reference.assertClose(expected, actual, "attention transfer " + s.getShape() + " vs " + t.getShape() + " p=" + p
                + " " + distance);
    }

    @Test
    void attentionTransferWithScale() {
        NDArray s = features(2, 4, 6, 6), t = features(2, 8, 6, 6);
        ValueAndGradient expected = Reference.run(s, t,
                (x, y) -> Reference.attentionTransfer(x, y, 2f, AttentionDistance.SQUARED, 1e-12f).mul(10f));
        ValueAndGradient actual = Reference.kernel(s, t,
                new AttentionTransferLoss("at", 2f, AttentionDistance.SQUARED, 1e-12f, 10f));
        Reference.assertClose(expected, actual, "attention transfer scale 10");
    }

    @ParameterizedTest(name = "{0} tau={1}")
    @CsvSource({
        "'4,10', 1", "'4,10', 4", "'7,3', 2", "'1,1000', 4", "'3,5,4,6', 1", "'2,21,7,5', 2", "'2,4,3,1,5', 0.5"
    })
    void softTargetCe(String dims, float tau) {
        long[] shape = java.util.Arrays.stream(dims.split(",")).mapToLong(Long::parseLong).toArray();
        NDArray s = manager.randomNormal(0f, 3f, new Shape(shape), DataType.FLOAT32);
        NDArray t = manager.randomNormal(0f, 3f, new Shape(shape), DataType.FLOAT32);
        ValueAndGradient expected = Reference.run(s, t, (x, y) -> Reference.softTargetCe(x, y, tau));
        ValueAndGradient actual = Reference.kernel(s, t, new SoftTargetCrossEntropyLoss(tau));
        Reference.assertClose(expected, actual, "soft-target CE " + s.getShape() + " tau " + tau);
    }

    @Test
    void softTargetCeWithScale() {
        NDArray s = manager.randomNormal(new Shape(6, 9)), t = manager.randomNormal(new Shape(6, 9));
        ValueAndGradient expected = Reference.run(s, t, (x, y) -> Reference.softTargetCe(x, y, 4f).mul(16f));
        ValueAndGradient actual = Reference.kernel(s, t, new SoftTargetCrossEntropyLoss("kd", 4f, 16f));
        Reference.assertClose(expected, actual, "soft-target CE tau 4 scale 16");
    }

    /** A non-contiguous student (a transposed view of a contiguous array) goes through a copy, same result. */
    @Test
    void nonContiguousStudent() {
        NDArray stored = features(2, 3, 5, 4); // the student is its (2,3,4,5) transpose: not contiguous
        NDArray t = features(2, 3, 4, 5);
        ValueAndGradient expected = Reference.run(stored, t,
                (x, y) -> Reference.whitenedMse(x.transpose(0, 1, 3, 2), y, WhitenMode.PER_SAMPLE, 1e-5f));
        ValueAndGradient actual = Reference.run(stored, t,
                (x, y) -> new WhitenedMseLoss().evaluate(new NDList(y), new NDList(x.transpose(0, 1, 3, 2))));
        Reference.assertClose(expected, actual, "whitened MSE, non-contiguous student");
    }

    /**
     * The path for engines other than PyTorch (the gradient written into a direct buffer that the engine wraps or
     * copies), run on PyTorch: same result as the formula.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"PER_SAMPLE", "PER_PIXEL"})
    void gradientThroughADirectBuffer(WhitenMode mode) {
        NDArray s = features(3, 4, 5, 6), t = features(3, 4, 5, 6);
        ValueAndGradient expected = Reference.run(s, t, (x, y) -> Reference.whitenedMse(x, y, mode, 1e-5f));
        ValueAndGradient actual = Reference.run(s, t, (x, y) -> KernelCall.evaluate("mse", x, y, 1f,
                (sb, tb, g, k) -> k.whitenedMse(sb, tb, 3, 4, 5, 6, mode, 1e-5f, 1f, g), false));
        Reference.assertClose(expected, actual, "whitened MSE, gradient through a direct buffer, " + mode);
    }

    @Test
    void theTeacherGetsNoGradient() {
        NDArray s = features(2, 3, 4, 4), t = features(2, 3, 4, 4).duplicate();
        t.setRequiresGradient(true);
        s.setRequiresGradient(true);
        try (var gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            gc.backward(new WhitenedMseLoss().evaluate(new NDList(t), new NDList(s)));
        }
        assertEquals(0f, t.getGradient().abs().sum().getFloat());
        assertTrue(s.getGradient().abs().sum().getFloat() > 0);
    }

    @Test
    void badShapesAndTypes() {
        NDArray a = features(2, 3, 4, 5);
        // whitened MSE: shapes differ, not 4-d
        assertIae(new WhitenedMseLoss(), features(2, 3, 4, 5), features(2, 4, 4, 5), "same shape");
        assertIae(new WhitenedMseLoss(), manager.randomNormal(new Shape(2, 3, 4)), manager.randomNormal(new Shape(2, 3, 4)),
                "(N,C,H,W)");
        // attention transfer: N, H or W differ; not 4-d
        assertIae(new AttentionTransferLoss(), a, features(2, 3, 4, 6), "N, H and W");
        assertIae(new AttentionTransferLoss(), a, features(3, 3, 4, 5), "N, H and W");
        assertIae(new AttentionTransferLoss(), manager.randomNormal(new Shape(2, 3, 20)), a, "4 dimensions");
        // cross entropy: shapes differ, one dimension
        assertIae(new SoftTargetCrossEntropyLoss(2f), manager.randomNormal(new Shape(4, 10)),
                manager.randomNormal(new Shape(4, 11)), "same shape");
        assertIae(new SoftTargetCrossEntropyLoss(2f), manager.randomNormal(new Shape(10)),
                manager.randomNormal(new Shape(10)), "(N,K)");
        // dtypes
        assertIae(new WhitenedMseLoss(), a.toType(DataType.FLOAT64, false), a, "float32");
        assertIae(new AttentionTransferLoss(), a, a.toType(DataType.FLOAT16, false), "float32");
        // lists of two arrays
        IllegalArgumentException two = assertThrows(IllegalArgumentException.class,
                () -> new WhitenedMseLoss().evaluate(new NDList(a), new NDList(a, a)));
        assertTrue(two.getMessage().contains("one array"), two.getMessage());
        // parameters
        assertThrows(IllegalArgumentException.class, () -> new SoftTargetCrossEntropyLoss(0f));
        assertThrows(IllegalArgumentException.class, () -> new AttentionTransferLoss(-1f, AttentionDistance.NORM));
        assertThrows(IllegalArgumentException.class,
                () -> new WhitenedMseLoss("m", WhitenMode.PER_PIXEL, Float.NaN, 1f));
    }

    private static void assertIae(ai.djl.training.loss.Loss loss, NDArray student, NDArray teacher, String mentions) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loss.evaluate(new NDList(teacher), new NDList(student)));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains(mentions),
                "message '" + e.getMessage() + "' should mention '" + mentions + "'");
    }

    /** The module brings no libtorch of JavaCPP's preset: DJL's would clash with it in this JVM. */
    @Test
    void noSecondLibtorchOnTheClassPath() {
        assertThrows(ClassNotFoundException.class, () -> Class.forName("org.bytedeco.pytorch.Tensor"));
    }
}
