package org.dreamteacher.examples.djl;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The student learns the teacher's features: the loss goes down; and only DJL's libtorch is on the class path. */
class DistillFeaturesTest {
    @Test
    void lossGoesDown() {
        DistillFeatures.Result r = DistillFeatures.distill(100, 1);
        assertTrue(Float.isFinite(r.firstLoss()) && Float.isFinite(r.lastLoss()), r.toString());
        assertTrue(r.lastLoss() < 0.8f * r.firstLoss(), "loss " + r.firstLoss() + " -> " + r.lastLoss());
    }

    @Test
    void noSecondLibtorch() {
        assertThrows(ClassNotFoundException.class, () -> Class.forName("org.bytedeco.pytorch.Tensor"));
    }
}
