package org.dreamteacher.torch.kernels;

import static org.bytedeco.pytorch.global.torch.layer_norm;
import static org.bytedeco.pytorch.global.torch.log_softmax;
import static org.bytedeco.pytorch.global.torch.mse_loss;
import static org.bytedeco.pytorch.global.torch.softmax;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.FiniteCheck;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.torch.TorchRuntime;

/**
 * Backend {@code reference}: the losses written the obvious way with libtorch composite ops and autograd, as a
 * libtorch user would write them. It is the oracle of the tests (its static {@code ...Loss} methods work in
 * any floating dtype, float64 included) and the baseline of the benchmarks. Raw addresses, arrays and buffers
 * are host memory.
 */
public final class ReferenceLossKernels implements LossKernels, TensorLossKernels {
    public static final String NAME = "reference";

    static {
        TorchRuntime.init();
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String unavailableReason() {
        return null;
    }

    @Override
    public boolean devicePointers() {
        return false;
    }

    // ---- the formulas (differentiable, any floating dtype) ---------------------------------------------

    /** mean((s − LN(t))²), LN without affine parameters over (C,H,W) or over C per pixel. */
    public static Tensor whitenedMseLoss(Tensor student, Tensor teacher, WhitenMode mode, double eps) {
        long[] d = student.sizes().vec().get();
        Tensor whitened;
        if (mode == WhitenMode.PER_SAMPLE) {
            whitened = layer_norm(teacher, new long[] {d[1], d[2], d[3]}, new TensorOptional(), new TensorOptional(),
                    eps, false);
        } else {
            whitened = layer_norm(teacher.permute(0, 2, 3, 1), new long[] {d[1]}, new TensorOptional(),
                    new TensorOptional(), eps, false).permute(0, 3, 1, 2);
        }
        return mse_loss(student, whitened);
    }

    /** Attention transfer between Σ_c |x_c|^p maps normalised per sample (F.normalize semantics). */
    public static Tensor attentionTransferLoss(Tensor student, Tensor teacher, double poolP,
            AttentionDistance distance, double eps) {
        Tensor diff = normalizedAttention(student, poolP, eps).sub(normalizedAttention(teacher, poolP, eps));
        if (distance == AttentionDistance.SQUARED) return diff.pow(new Scalar(2.0)).mean();
        return diff.norm(new ScalarOptional(new Scalar(2.0)), new long[] {1}, false).mean();
    }

    /** q = A / max(‖A‖₂, eps) per sample, A = Σ_c |x_c|^p flattened to (N, H·W). */
    public static Tensor normalizedAttention(Tensor x, double poolP, double eps) {
        Tensor a = x.abs().pow(new Scalar(poolP)).sum(1).flatten(1, -1);
        return a.div(a.norm(new ScalarOptional(new Scalar(2.0)), new long[] {1}, true).clamp_min(new Scalar(eps)));
    }

    /** mean over (N, positions) of −Σ_k softmax(t/τ)_k · log_softmax(s/τ)_k, K = dimension 1. */
    public static Tensor softTargetCeLoss(Tensor studentLogits, Tensor teacherLogits, double temperature) {
        Scalar tau = new Scalar(temperature);
        return softmax(teacherLogits.div(tau), 1).mul(log_softmax(studentLogits.div(tau), 1)).sum(1).mean().neg();
    }

    // ---- on tensors --------------------------------------------------------------------------

    @Override
    public LossResult whitenedMse(Tensor student, Tensor teacher, WhitenMode mode, float eps, float gradScale,
            boolean computeGrad) {
        long[] d = TensorChecks.whitenedMse(student, teacher);
        if (FiniteCheck.enabled()) TensorFiniteCheck.whitenedMse("reference whitenedMse", student, teacher, d);
        requirePositive("eps", eps);
        requireFinite("grad_scale", gradScale);
        return evaluate(student, computeGrad, gradScale, s -> whitenedMseLoss(s, teacher.detach(), mode, eps));
    }

    @Override
    public LossResult attentionTransfer(Tensor student, Tensor teacher, float poolP, AttentionDistance distance,
            float eps, float gradScale, boolean computeGrad) {
        long[] d = TensorChecks.attentionTransfer(student, teacher);
        if (FiniteCheck.enabled()) TensorFiniteCheck.attentionTransfer("reference attentionTransfer", student, teacher, d);
        requirePositive("pool_p", poolP);
        requirePositive("eps", eps);
        requireFinite("grad_scale", gradScale);
        return evaluate(student, computeGrad, gradScale,
                s -> attentionTransferLoss(s, teacher.detach(), poolP, distance, eps));
    }

    @Override
    public LossResult softTargetCe(Tensor studentLogits, Tensor teacherLogits, float temperature, float gradScale,
            boolean computeGrad) {
        long[] d = TensorChecks.softTargetCe(studentLogits, teacherLogits);
        if (FiniteCheck.enabled()) TensorFiniteCheck.softTargetCe("reference softTargetCe", studentLogits, teacherLogits, d);
        requirePositive("temperature", temperature);
        requireFinite("grad_scale", gradScale);
        return evaluate(studentLogits, computeGrad, gradScale,
                s -> softTargetCeLoss(s, teacherLogits.detach(), temperature));
    }

    private interface LossFormula {
        Tensor apply(Tensor student);
    }

    /** Runs the formula on a detached copy of the student and takes the gradient by autograd. */
    private static LossResult evaluate(Tensor student, boolean computeGrad, float gradScale, LossFormula formula) {
        Tensor loss;
        Tensor grad = null;
        try (PointerScope scope = new PointerScope(); AutoGradMode mode = new AutoGradMode(computeGrad)) {
            Tensor leaf = student.detach().set_requires_grad(computeGrad);
            Tensor value = formula.apply(leaf);
            if (computeGrad) {
                value.backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());
                grad = leaf.grad().mul(new Scalar(gradScale)).retainReference();
            }
            loss = value.detach().to(ScalarType.Float).retainReference();
        }
        return new LossResult(loss, grad);
    }

    private static void requirePositive(String name, float value) {
        if (!(Float.isFinite(value) && value > 0)) {
            throw new IllegalArgumentException("argument '" + name + "' must be finite and > 0 (got " + value + ")");
        }
    }

    private static void requireFinite(String name, float value) {
        if (!Float.isFinite(value)) {
            throw new IllegalArgumentException("argument '" + name + "' must be finite (got " + value + ")");
        }
    }

    // ---- LossKernels on raw host addresses ---------------------------------------------------------------

    @Override
    public void whitenedMse(long student, long teacher, long n, long c, long h, long w, WhitenMode mode, float eps,
            float gradScale, long loss, long gradStudent, long stream) {
        long[] shape = {n, c, h, w};
        requireAddress("loss", loss);
        try (PointerScope scope = new PointerScope()) {
            writeOutputs(whitenedMse(wrap(student, shape), wrap(teacher, shape), mode, eps, gradScale,
                    gradStudent != 0), loss, gradStudent, shape);
        }
    }

    @Override
    public void attentionTransfer(long student, long cs, long teacher, long ct, long n, long h, long w, float poolP,
            AttentionDistance distance, float eps, float gradScale, long loss, long gradStudent, long stream) {
        long[] shape = {n, cs, h, w};
        requireAddress("loss", loss);
        try (PointerScope scope = new PointerScope()) {
            writeOutputs(attentionTransfer(wrap(student, shape), wrap(teacher, new long[] {n, ct, h, w}), poolP,
                    distance, eps, gradScale, gradStudent != 0), loss, gradStudent, shape);
        }
    }

    @Override
    public void softTargetCe(long studentLogits, long teacherLogits, long n, long k, long positions,
            float temperature, float gradScale, long loss, long gradStudent, long stream) {
        long[] shape = {n, k, positions};
        requireAddress("loss", loss);
        try (PointerScope scope = new PointerScope()) {
            writeOutputs(softTargetCe(wrap(studentLogits, shape), wrap(teacherLogits, shape), temperature, gradScale,
                    gradStudent != 0), loss, gradStudent, shape);
        }
    }

    private static void requireAddress(String name, long address) {
        if (address == 0) throw new IllegalArgumentException("argument '" + name + "' must not be 0 (null)");
    }

    private static Tensor wrap(long address, long[] shape) {
        requireAddress("input", address);
        for (long s : shape) {
            if (s <= 0) throw new IllegalArgumentException("all sizes must be > 0, got " + java.util.Arrays.toString(shape));
        }
        return torch.from_blob(new RawAddress(address), shape, new TensorOptions(ScalarType.Float));
    }

    private static void writeOutputs(LossResult result, long loss, long gradStudent, long[] shape) {
        wrap(loss, new long[] {1}).copy_(result.loss().reshape(1));
        if (gradStudent != 0) wrap(gradStudent, shape).copy_(result.grad());
    }

    /** A non-owning view of a raw address, for {@code from_blob}. */
    private static final class RawAddress extends Pointer {
        RawAddress(long address) {
            this.address = address;
        }
    }
}
