package org.dreamteacher.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * The three fused distillation losses of DreamTeacher, each returning the loss and, in the same call, the
 * gradient with respect to the student (multiplied by {@code gradScale}). The math is pinned in DESIGN.md
 * section 3 and in {@code dreamteacher.h}.
 *
 * <p>Two forms of each operation:
 * <ul>
 *   <li><b>raw addresses</b> ({@code long}): contiguous float32 buffers, the loss written to {@code loss}
 *       (one float) and the gradient to {@code gradStudent} (0 = forward only). Host addresses for host
 *       backends; device addresses and a {@code cudaStream_t} for those with {@link #devicePointers()}.
 *       No Java object is allocated per call.</li>
 *   <li><b>libtorch tensors</b>: dtype, contiguity, device and shapes are checked (a clear
 *       {@link IllegalArgumentException} otherwise), outputs are allocated on the inputs' device.</li>
 * </ul>
 * Implementations are found with {@link java.util.ServiceLoader}; use {@link Backends} to pick one.
 */
public interface LossKernels {
    /** Default LayerNorm epsilon of the whitened MSE. */
    float WHITEN_EPS = 1e-5f;
    /** Default epsilon of the attention-map normalisation. */
    float ATTENTION_EPS = 1e-12f;
    /** Default exponent p of the attention pooling Σ_c |A_c|^p. */
    float ATTENTION_POOL_P = 2f;

    /** Name used for selection: {@code cpu}, {@code cuda}, {@code reference}. */
    String name();

    /** {@code null} if this backend can run here, otherwise a sentence saying why not. */
    String unavailableReason();

    default boolean isAvailable() {
        return unavailableReason() == null;
    }

    /** Whether the raw-address operations take device pointers and a stream (CUDA) rather than host memory. */
    boolean devicePointers();

    // ---- raw addresses ----------------------------------------------------------------------------------

    void whitenedMse(long student, long teacher, long n, long c, long h, long w, WhitenMode mode, float eps,
            float gradScale, long loss, long gradStudent, long stream);

    void attentionTransfer(long student, long cs, long teacher, long ct, long n, long h, long w, float poolP,
            AttentionDistance distance, float eps, float gradScale, long loss, long gradStudent, long stream);

    void softTargetCe(long studentLogits, long teacherLogits, long n, long k, long positions, float temperature,
            float gradScale, long loss, long gradStudent, long stream);

    // ---- libtorch tensors -------------------------------------------------------------------------------

    /** Student and teacher both (N,C,H,W). */
    LossResult whitenedMse(Tensor student, Tensor teacher, WhitenMode mode, float eps, float gradScale,
            boolean computeGrad);

    /** Per-sample whitening, eps 1e-5, gradient scale 1. */
    default LossResult whitenedMse(Tensor student, Tensor teacher) {
        return whitenedMse(student, teacher, WhitenMode.PER_SAMPLE, WHITEN_EPS, 1f, true);
    }

    /** Student (N,Cs,H,W), teacher (N,Ct,H,W); Cs may differ from Ct. */
    LossResult attentionTransfer(Tensor student, Tensor teacher, float poolP, AttentionDistance distance,
            float eps, float gradScale, boolean computeGrad);

    /** p = 2, squared distance, eps 1e-12, gradient scale 1. */
    default LossResult attentionTransfer(Tensor student, Tensor teacher) {
        return attentionTransfer(student, teacher, ATTENTION_POOL_P, AttentionDistance.SQUARED, ATTENTION_EPS, 1f,
                true);
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
}
