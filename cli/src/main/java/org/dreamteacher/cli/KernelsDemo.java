package org.dreamteacher.cli;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;

import java.util.Locale;
import java.util.function.Function;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.torch.kernels.LossResult;
import org.dreamteacher.kernels.NativeLibrary;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.torch.TorchRuntime;

/**
 * Runs the three fused losses on random tensors of the shapes distillation uses, with the selected backend
 * and with the reference (libtorch composite) backend, and prints both losses and the gradient agreement.
 * A smoke check of an installation; speed is measured by the benchmarks in benchmarks/.
 */
public final class KernelsDemo {
    private KernelsDemo() {}

    public static void main(String[] args) {
        TorchRuntime.init();
        manual_seed(0);
        TensorLossKernels fused = TensorLossKernels.selected();
        TensorLossKernels reference = TensorLossKernels.get("reference");
        System.out.printf(Locale.ROOT, "DreamTeacher kernels %s, backend '%s' (available: %s), %d CPU threads%n",
                NativeLibrary.version(), Backends.selectedName(), String.join(", ", Backends.availableNames()),
                NativeLibrary.numThreads());
        System.out.printf(Locale.ROOT, "%-44s %12s %12s %14s%n", "loss and shape", "loss", "reference",
                "max|dg|/max|g|");
        try (PointerScope scope = new PointerScope()) {
            Tensor s = randn(64, 256, 16, 16);
            Tensor t = randn(64, 256, 16, 16).mul(new org.bytedeco.pytorch.Scalar(3.0));
            Tensor tWide = randn(64, 512, 16, 16);
            Tensor logitsS = randn(16, 21, 64, 64);
            Tensor logitsT = randn(16, 21, 64, 64);
            row("whitened MSE per sample (64,256,16,16)", fused, reference,
                    k -> k.whitenedMse(s, t, WhitenMode.PER_SAMPLE, LossKernels.WHITEN_EPS, 1f, true));
            row("whitened MSE per pixel (64,256,16,16)", fused, reference,
                    k -> k.whitenedMse(s, t, WhitenMode.PER_PIXEL, LossKernels.WHITEN_EPS, 1f, true));
            row("attention transfer p=2 (64,256|512,16,16)", fused, reference,
                    k -> k.attentionTransfer(s, tWide, 2f, AttentionDistance.SQUARED, LossKernels.ATTENTION_EPS, 1f,
                            true));
            row("soft-target CE tau=4 (16,21,64,64)", fused, reference, k -> k.softTargetCe(logitsS, logitsT, 4f));
        }
    }

    private static void row(String label, TensorLossKernels fused, TensorLossKernels reference,
            Function<TensorLossKernels, LossResult> op) {
        try (PointerScope scope = new PointerScope()) {
            LossResult a = op.apply(fused);
            LossResult b = op.apply(reference);
            double gradErr = a.grad().sub(b.grad()).abs().max().item_double()
                    / b.grad().abs().max().item_double();
            System.out.printf(Locale.ROOT, "%-44s %12.6g %12.6g %14.2e%n", label, a.lossValue(), b.lossValue(),
                    gradErr);
        }
    }
}
