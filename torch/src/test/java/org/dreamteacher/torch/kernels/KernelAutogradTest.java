package org.dreamteacher.torch.kernels;

import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.kernels.TestArrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.junit.jupiter.api.Test;

/**
 * A fused kernel attached to autograd gives the same parameter gradients as the composite loss written with
 * libtorch ops, through a parameter upstream of the student (student = x·w, w trainable).
 */
class KernelAutogradTest {

    @Test
    void attachedKernelMatchesCompositeLossThroughUpstreamParameter() {
        try (PointerScope scope = new PointerScope()) {
            long[] shape = {2, 6, 5, 5};
            Tensor x = TestData.floats(TestArrays.gaussian(1, TestArrays.count(shape), 1, 0), shape);
            Tensor teacher = TestData.floats(TestArrays.gaussian(2, TestArrays.count(shape), 2, 1), shape);
            Tensor logitsTeacher = TestData.floats(TestArrays.gaussian(3, TestArrays.count(shape), 1, 0), shape);

            Tensor w1 = TestData.floats(new float[] {1.5f}, 1).set_requires_grad(true);
            Tensor student = x.mul(w1);
            TensorLossKernels cpu = TensorLossKernels.get("cpu");
            Tensor fused = KernelAutograd.attach(student, cpu.whitenedMse(student, teacher))
                    .add(KernelAutograd.attach(student, cpu.softTargetCe(student, logitsTeacher, 4f))
                            .mul(new Scalar(0.5)));
            fused.backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());

            Tensor w2 = TestData.floats(new float[] {1.5f}, 1).set_requires_grad(true);
            Tensor student2 = x.mul(w2);
            Tensor composite = ReferenceLossKernels.whitenedMseLoss(student2, teacher, WhitenMode.PER_SAMPLE, 1e-5)
                    .add(ReferenceLossKernels.softTargetCeLoss(student2, logitsTeacher, 4).mul(new Scalar(0.5)));
            composite.backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());

            assertEquals(composite.item_double(), fused.item_double(), 1e-5 * Math.abs(composite.item_double()));
            double g1 = w1.grad().item_double();
            double g2 = w2.grad().item_double();
            assertTrue(Math.abs(g2) > 1e-3, "test needs a non-trivial gradient");
            assertEquals(g2, g1, 1e-4 * Math.abs(g2));
        }
    }

    @Test
    void attachNeedsAGradient() {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestData.floats(TestArrays.gaussian(4, 12, 1, 0), 3, 4);
            LossResult forwardOnly = TensorLossKernels.get("cpu").softTargetCe(s, s, 1f, 1f, false);
            assertThrows(IllegalArgumentException.class, () -> KernelAutograd.attach(s, forwardOnly));
        }
    }
}
