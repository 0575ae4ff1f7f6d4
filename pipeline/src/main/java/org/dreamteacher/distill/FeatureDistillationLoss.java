package org.dreamteacher.distill;

import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.torch.kernels.KernelAutograd;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.torch.kernels.LossResult;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.nn.Layers;

/**
 * DreamTeacher's feature distillation loss, L_feat = 1/L Σ_l [ WMSE(r_l, t_l) + λ_AT · AT(r_l, t_l) ], over the
 * regressor's outputs r_l and the frozen teacher's features t_l of the same level, computed by the fused
 * kernels of a {@link TensorLossKernels} backend and handed to autograd with {@link KernelAutograd#attach}, so one
 * {@code backward()} trains the regressor and the backbone.
 *
 * <p>Where a regressed map and its teacher map differ in size by rounding (odd inputs), the regressed map is
 * resized bilinearly to the teacher's size before the loss; any other mismatch is an error.
 */
public final class FeatureDistillationLoss {
    /** The differentiable total and its parts as plain numbers (averaged over levels). */
    public record Terms(Tensor total, double whitenedMse, double attention) {}

    private final TensorLossKernels kernels;
    private final WhitenMode whitenMode;
    private final float lambdaAt;
    private final float poolP;
    private final AttentionDistance distance;

    /**
     * @param lambdaAt weight of attention transfer (the paper: 10; 0 disables it)
     * @param poolP    exponent of the attention pooling (the paper: 2)
     * @param distance NORM is the paper's formula; SQUARED is Zagoruyko's code
     */
    public FeatureDistillationLoss(TensorLossKernels kernels, WhitenMode whitenMode, float lambdaAt, float poolP,
            AttentionDistance distance) {
        if (!(lambdaAt >= 0) || !Float.isFinite(lambdaAt)) throw new IllegalArgumentException("lambdaAt must be finite and >= 0");
        this.kernels = kernels;
        this.whitenMode = whitenMode;
        this.lambdaAt = lambdaAt;
        this.poolP = poolP;
        this.distance = distance;
    }

    /** The paper's defaults: per-sample whitening, λ_AT = 10, p = 2, Euclidean distance. */
    public static FeatureDistillationLoss paperDefaults(TensorLossKernels kernels) {
        return new FeatureDistillationLoss(kernels, WhitenMode.PER_SAMPLE, 10f, 2f, AttentionDistance.NORM);
    }

    public Terms compute(List<Tensor> regressed, List<Tensor> teacher) {
        if (regressed.size() != teacher.size() || regressed.isEmpty())
            throw new IllegalArgumentException("need one regressed map per teacher level: " + regressed.size() + " vs " + teacher.size());
        int levels = regressed.size();
        Tensor total = null;
        double mseSum = 0, atSum = 0;
        for (int l = 0; l < levels; l++) {
            Tensor t = teacher.get(l).detach().to(ScalarType.Float).contiguous();
            Tensor r = matchSize(regressed.get(l), t, l).contiguous();
            LossResult mse = kernels.whitenedMse(r, t, whitenMode, LossKernels.WHITEN_EPS, 1f, true);
            mseSum += mse.lossValue();
            Tensor term = KernelAutograd.attach(r, mse);
            if (lambdaAt > 0) {
                LossResult at = kernels.attentionTransfer(r, t, poolP, distance, LossKernels.ATTENTION_EPS, 1f, true);
                atSum += at.lossValue();
                term = term.add(KernelAutograd.attach(r, at).mul(new Scalar(lambdaAt)));
            }
            total = total == null ? term : total.add(term);
        }
        return new Terms(total.div(new Scalar(levels)), mseSum / levels, atSum / levels);
    }

    private static Tensor matchSize(Tensor r, Tensor t, int level) {
        if (r.dim() != 4 || t.dim() != 4 || r.size(0) != t.size(0) || r.size(1) != t.size(1))
            throw new IllegalArgumentException("level " + level + ": regressed " + java.util.Arrays.toString(r.sizes().vec().get())
                    + " does not match teacher " + java.util.Arrays.toString(t.sizes().vec().get()) + " in batch or channels");
        if (r.size(2) == t.size(2) && r.size(3) == t.size(3)) return r;
        if (Math.abs(r.size(2) - t.size(2)) > Math.max(1, t.size(2) / 4) || Math.abs(r.size(3) - t.size(3)) > Math.max(1, t.size(3) / 4))
            throw new IllegalArgumentException("level " + level + ": regressed size " + r.size(2) + "x" + r.size(3)
                    + " is far from the teacher's " + t.size(2) + "x" + t.size(3) + " (different strides?)");
        return Layers.resizeBilinear(r, t.size(2), t.size(3));
    }
}
