package org.dreamteacher.torch.kernels;

import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.WhitenMode;

/**
 * The fused losses of {@link LossKernels} on libtorch tensors: dtype, contiguity, device and shapes are checked
 * (a clear {@link IllegalArgumentException} otherwise), and the outputs are allocated on the inputs' device.
 *
 * <p>Get one with {@link #of(LossKernels)} for a backend of {@link Backends}, with {@link #get(String)} by name,
 * or {@link #selected()}; {@code auto} picks cuda for CUDA tensors and cpu otherwise.
 */
public interface TensorLossKernels {
    /** The backend's name: {@code cpu}, {@code cuda}, {@code reference}, {@code auto}. */
    String name();

    /** Student and teacher both (N,C,H,W). */
    LossResult whitenedMse(Tensor student, Tensor teacher, WhitenMode mode, float eps, float gradScale,
            boolean computeGrad);

    /** Per-sample whitening, eps 1e-5, gradient scale 1. */
    default LossResult whitenedMse(Tensor student, Tensor teacher) {
        return whitenedMse(student, teacher, WhitenMode.PER_SAMPLE, LossKernels.WHITEN_EPS, 1f, true);
    }

    /** Student (N,Cs,H,W), teacher (N,Ct,H,W); Cs may differ from Ct. */
    LossResult attentionTransfer(Tensor student, Tensor teacher, float poolP, AttentionDistance distance,
            float eps, float gradScale, boolean computeGrad);

    /** p = 2, squared distance, eps 1e-12, gradient scale 1. */
    default LossResult attentionTransfer(Tensor student, Tensor teacher) {
        return attentionTransfer(student, teacher, LossKernels.ATTENTION_POOL_P, AttentionDistance.SQUARED,
                LossKernels.ATTENTION_EPS, 1f, true);
    }

    /**
     * Logits (N,K) or (N,K,d1,d2,...): K is dimension 1 as in {@code F.cross_entropy}; the trailing dimensions
     * are the positions (P = 1 for classification, H·W for segmentation).
     */
    LossResult softTargetCe(Tensor studentLogits, Tensor teacherLogits, float temperature, float gradScale,
            boolean computeGrad);

    /** Gradient scale 1. */
    default LossResult softTargetCe(Tensor studentLogits, Tensor teacherLogits, float temperature) {
        return softTargetCe(studentLogits, teacherLogits, temperature, 1f, true);
    }

    /**
     * The tensor form of a backend: the backend itself when it works on tensors (reference), otherwise its
     * raw-address operations on the tensors' memory (cpu: CPU tensors; cuda: CUDA tensors on their current stream).
     */
    static TensorLossKernels of(LossKernels backend) {
        if (backend instanceof TensorLossKernels) return (TensorLossKernels) backend;
        if (backend.name().equals(Backends.AUTO)) return AutoTensorKernels.INSTANCE;
        return new NativeTensorKernels(backend);
    }

    /**
     * The backend of that name, on tensors ({@code auto} included).
     *
     * @throws IllegalArgumentException for an unknown name
     * @throws org.dreamteacher.kernels.BackendUnavailableException if it cannot run here
     */
    static TensorLossKernels get(String name) {
        return of(Backends.get(name));
    }

    /** The configured backend ({@link Backends#selectedName()}) on tensors. */
    static TensorLossKernels selected() {
        return get(Backends.selectedName());
    }
}
