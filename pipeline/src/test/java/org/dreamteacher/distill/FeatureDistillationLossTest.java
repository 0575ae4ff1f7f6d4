package org.dreamteacher.distill;

import org.dreamteacher.torch.kernels.TensorLossKernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.torch.kernels.ReferenceLossKernels;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** L_feat through the fused cpu kernels against the same formula written with libtorch ops in float64. */
class FeatureDistillationLossTest {
    @BeforeAll
    static void init() {
        TorchRuntime.init();
    }

    private static Tensor leaf(Tensor t) {
        return t.detach().clone().set_requires_grad(true);
    }

    @Test
    void valueAndGradientsMatchTheFloat64Composite() {
        for (AttentionDistance distance : AttentionDistance.values()) {
            for (WhitenMode mode : WhitenMode.values()) {
                torch.manual_seed(11);
                // Two levels with different channel counts and sizes, one of odd size.
                Tensor r1 = torch.randn(3, 6, 8, 8), t1 = torch.randn(3, 6, 8, 8).mul(new Scalar(3)).add(new Scalar(1));
                Tensor r2 = torch.randn(3, 5, 3, 5), t2 = torch.randn(3, 5, 3, 5);
                float lambda = 10f;
                FeatureDistillationLoss loss = new FeatureDistillationLoss(TensorLossKernels.get("cpu"), mode, lambda, 2f, distance);
                Tensor a1 = leaf(r1), a2 = leaf(r2);
                FeatureDistillationLoss.Terms terms = loss.compute(List.of(a1, a2), List.of(t1, t2));
                terms.total().backward();

                Tensor b1 = leaf(r1.to(ScalarType.Double)), b2 = leaf(r2.to(ScalarType.Double));
                Tensor mse = ReferenceLossKernels.whitenedMseLoss(b1, t1.to(ScalarType.Double), mode, 1e-5)
                        .add(ReferenceLossKernels.whitenedMseLoss(b2, t2.to(ScalarType.Double), mode, 1e-5)).div(new Scalar(2));
                Tensor at = ReferenceLossKernels.attentionTransferLoss(b1, t1.to(ScalarType.Double), 2, distance, 1e-12)
                        .add(ReferenceLossKernels.attentionTransferLoss(b2, t2.to(ScalarType.Double), 2, distance, 1e-12)).div(new Scalar(2));
                Tensor want = mse.add(at.mul(new Scalar(lambda)));
                want.backward();

                String label = mode + "/" + distance;
                assertEquals(want.item_double(), terms.total().item_double(), 1e-5 * Math.abs(want.item_double()), label);
                assertEquals(mse.item_double(), terms.whitenedMse(), 1e-5 * mse.item_double(), label);
                assertEquals(at.item_double(), terms.attention(), 1e-5 * at.item_double() + 1e-9, label);
                for (Tensor[] pair : new Tensor[][] {{a1, b1}, {a2, b2}}) {
                    double err = pair[0].grad().to(ScalarType.Double).sub(pair[1].grad()).abs().max().item_double();
                    double scale = pair[1].grad().abs().max().item_double();
                    assertTrue(err <= 1e-4 * scale, label + ": gradient error " + err + " of " + scale);
                }
            }
        }
    }

    @Test
    void offByOneSizesAreResizedAndOtherMismatchesRefused() {
        FeatureDistillationLoss loss = FeatureDistillationLoss.paperDefaults(TensorLossKernels.get("cpu"));
        Tensor r = leaf(torch.randn(2, 4, 7, 7));
        FeatureDistillationLoss.Terms terms = loss.compute(List.of(r), List.of(torch.randn(2, 4, 8, 8)));
        terms.total().backward();
        assertTrue(r.grad().abs().sum().item_double() > 0);
        assertThrows(IllegalArgumentException.class, () -> loss.compute(List.of(r), List.of(torch.randn(2, 5, 7, 7))));
        assertThrows(IllegalArgumentException.class, () -> loss.compute(List.of(r), List.of(torch.randn(2, 4, 14, 14))));
        assertThrows(IllegalArgumentException.class, () -> loss.compute(List.of(r), List.of()));
    }
}
