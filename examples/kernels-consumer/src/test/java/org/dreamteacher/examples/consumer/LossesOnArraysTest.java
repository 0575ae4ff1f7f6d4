package org.dreamteacher.examples.consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.dreamteacher.kernels.AttentionDistance;
import org.junit.jupiter.api.Test;

/** The losses against values worked out by hand, and no libtorch on the class path. */
class LossesOnArraysTest {
    @Test
    void whitenedMse() {
        // mean 2.5, biased variance 1.25: W(t) = (t - 2.5) / sqrt(1.25 + 1e-5); the loss is mean(W²) = 1.25 / 1.25001
        float[] grad = new float[4];
        assertEquals(1.25 / 1.25001, LossesOnArrays.whitenedMse(grad), 1e-6);
        double inv = 1 / Math.sqrt(1.25001);
        double[] w = {-1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv};
        for (int i = 0; i < 4; i++) assertEquals(2 * (0 - w[i]) / 4, grad[i], 1e-6, "grad " + i);
    }

    @Test
    void attentionTransfer() {
        // q_s = (1, 0), q_t = (0, 1): squared distance (1 + 1) / 2 positions = 1; norm distance sqrt(2)
        float[] grad = new float[2];
        assertEquals(1.0, LossesOnArrays.attentionTransfer(AttentionDistance.SQUARED, grad), 1e-6);
        assertEquals(Math.sqrt(2), LossesOnArrays.attentionTransfer(AttentionDistance.NORM, grad), 1e-6);
    }

    @Test
    void softTargetCe() {
        // teacher probabilities (1/4, 3/4), student (1/2, 1/2): H = ln 2; gradient p_s - p_t = (1/4, -1/4)
        float[] grad = new float[2];
        assertEquals(Math.log(2), LossesOnArrays.softTargetCe(grad), 1e-6);
        assertEquals(0.25, grad[0], 1e-6);
        assertEquals(-0.25, grad[1], 1e-6);
    }

    @Test
    void noLibtorchOnTheClassPath() {
        assertThrows(ClassNotFoundException.class, () -> Class.forName("org.bytedeco.pytorch.Tensor"));
    }
}
