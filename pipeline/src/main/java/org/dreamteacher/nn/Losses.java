package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.require;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;

/**
 * Losses of the label-guided stage written with libtorch ops (autograd included). The interpreter's loss is
 * L = CE + λ_d · Dice (paper: λ_d = 3): cross entropy alone lets the large background class dominate on few
 * labelled images; Dice weighs each class present by its overlap instead of its pixel count.
 */
public final class Losses {
    static {
        TorchRuntime.init();
    }

    private Losses() {}

    /**
     * Soft multi-class Dice loss on softmax probabilities: with p = softmax(logits) and g the one-hot target,
     * dice_k = 2·Σ p_k g_k / (Σ p_k + Σ g_k), sums over the batch and all positions; the loss is 1 − the mean of
     * dice_k over the classes that occur in {@code target} (absent classes would only reward predicting nothing).
     *
     * @param logits (N, K, ...) floating point, K = numClasses
     * @param target (N, ...) int64 class indices in [0, K)
     * @return a scalar tensor, in [0, 1]
     */
    public static Tensor diceLoss(Tensor logits, Tensor target, int numClasses) {
        checkPair(logits, target, numClasses);
        long dims = logits.dim();
        long[] sumDims = new long[(int) dims - 1];
        sumDims[0] = 0;
        for (int d = 2; d < dims; d++) sumDims[d - 1] = d;
        Tensor p = torch.softmax(logits, 1);
        Tensor g = torch.one_hot(target, numClasses).movedim(dims - 1, 1).to(p.scalar_type());
        Tensor inter = p.mul(g).sum(sumDims);
        Tensor gsum = g.sum(sumDims);
        Tensor denom = p.sum(sumDims).add(gsum).clamp_min(Layers.s(1e-12));
        Tensor dice = inter.mul(Layers.s(2.0)).div(denom);
        Tensor present = gsum.gt(Layers.s(0.0)).to(p.scalar_type());
        // Every target lies in [0, K), so at least one class is present and present.sum() >= 1.
        return dice.mul(present).sum().div(present.sum()).neg().add(Layers.s(1.0));
    }

    /** Cross entropy (mean over pixels) + {@code diceWeight} · {@link #diceLoss}: the interpreter's loss. */
    public static Tensor crossEntropyDice(Tensor logits, Tensor target, int numClasses, double diceWeight) {
        require(diceWeight >= 0 && Double.isFinite(diceWeight), "diceWeight must be finite and >= 0, got " + diceWeight);
        Tensor ce = torch.cross_entropy(logits, target);
        if (diceWeight == 0) return ce;
        return ce.add(diceLoss(logits, target, numClasses).mul(Layers.s(diceWeight)));
    }

    private static void checkPair(Tensor logits, Tensor target, int numClasses) {
        require(numClasses >= 1, "numClasses must be >= 1, got " + numClasses);
        require(logits != null && logits.defined() && target != null && target.defined(), "logits and target must be defined");
        require(logits.dim() >= 2, "logits must be (N, K, ...), got " + logits.dim() + "-D");
        require(logits.size(1) == numClasses, "logits have " + logits.size(1) + " classes in dimension 1, expected " + numClasses);
        ScalarType lt = logits.scalar_type().intern();
        require(lt == ScalarType.Float || lt == ScalarType.Double || lt == ScalarType.Half || lt == ScalarType.BFloat16,
                "logits must be floating point, got " + lt);
        require(target.scalar_type().intern() == ScalarType.Long, "target must be int64 class indices, got " + target.scalar_type().intern());
        require(target.dim() == logits.dim() - 1, "target must be (N, ...) with one dimension less than the logits");
        require(target.size(0) == logits.size(0), "target batch " + target.size(0) + " != logits batch " + logits.size(0));
        for (int d = 1; d < target.dim(); d++)
            require(target.size(d) == logits.size(d + 1), "target size " + target.size(d) + " in dimension " + d
                    + " != logits size " + logits.size(d + 1) + " in dimension " + (d + 1));
        require(target.numel() > 0, "target is empty");
        long min = target.min().item_long(), max = target.max().item_long();
        require(min >= 0 && max < numClasses, "target class indices must be in [0, " + numClasses + "), got " + min + ".." + max);
    }
}
