package org.dreamteacher.kernels;

import java.nio.FloatBuffer;

/**
 * The three fused distillation losses of DreamTeacher, each returning the loss and, in the same call, the
 * gradient with respect to the student (multiplied by {@code gradScale}). The math is pinned in
 * {@code docs/design.md} (section "The kernel contract") and in {@code dreamteacher.h}.
 *
 * <p>Three forms of each operation, with the same argument order:
 * <ul>
 *   <li><b>raw addresses</b> ({@code long}): contiguous float32 buffers, the loss written to {@code loss}
 *       (one float) and the gradient to {@code gradStudent} (0 = forward only). Host addresses for host
 *       backends; device addresses and a {@code cudaStream_t} for those with {@link #devicePointers()}.
 *       No Java object is allocated per call.</li>
 *   <li><b>{@code float[]}</b>: the loss is returned, the gradient written into {@code grad} unless it is
 *       {@code null}. Arrays are row-major NCHW (or (N,K,P) for logits); an array may be longer than its
 *       dimensions say, never shorter.</li>
 *   <li><b>direct {@link FloatBuffer}s</b> in the platform's byte order (zero copy), read from their position
 *       on; the loss is returned and the gradient written from {@code grad}'s position on.</li>
 * </ul>
 * Array and buffer arguments are checked in Java before any native code runs ({@link IllegalArgumentException}
 * naming the argument); sizes and scalars are checked by the native layer with the same exception. Backends that
 * take device pointers accept raw addresses only. The kernels on libtorch tensors are in the module
 * {@code dreamteacher-torch} ({@code org.dreamteacher.torch.kernels.TensorLossKernels}).
 *
 * <p>Implementations are found with {@link java.util.ServiceLoader}; use {@link Backends} to pick one.
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

    /** Whitened MSE; student and teacher both (N,C,H,W). */
    void whitenedMse(long student, long teacher, long n, long c, long h, long w, WhitenMode mode, float eps,
            float gradScale, long loss, long gradStudent, long stream);

    /** Attention transfer; student (N,Cs,H,W), teacher (N,Ct,H,W). */
    void attentionTransfer(long student, long cs, long teacher, long ct, long n, long h, long w, float poolP,
            AttentionDistance distance, float eps, float gradScale, long loss, long gradStudent, long stream);

    /** Soft-target cross entropy on logits (N,K,positions). */
    void softTargetCe(long studentLogits, long teacherLogits, long n, long k, long positions, float temperature,
            float gradScale, long loss, long gradStudent, long stream);

    // ---- float[] ----------------------------------------------------------------------------------------

    /**
     * Whitened MSE on arrays of (at least) n·c·h·w floats; returns the loss and writes the gradient into
     * {@code grad} unless it is {@code null}.
     */
    default float whitenedMse(float[] student, float[] teacher, int n, int c, int h, int w, WhitenMode mode,
            float eps, float scale, float[] grad) {
        long count = HostArrays.whitenedMse(this, HostArrays.input("student", student),
                HostArrays.input("teacher", teacher), n, c, h, w, HostArrays.output(grad));
        return HostArrays.viaAddresses(count, new float[][] {student, teacher}, grad,
                (a, loss, g) -> whitenedMse(a[0], a[1], n, c, h, w, mode, eps, scale, loss, g, 0));
    }

    /**
     * Attention transfer on a student of n·studentChannels·h·w floats and a teacher of n·teacherChannels·h·w;
     * returns the loss and writes the student's gradient into {@code grad} unless it is {@code null}.
     */
    default float attentionTransfer(float[] student, int studentChannels, float[] teacher, int teacherChannels,
            int n, int h, int w, float p, AttentionDistance distance, float eps, float scale, float[] grad) {
        long count = HostArrays.attentionTransfer(this, HostArrays.input("student", student), studentChannels,
                HostArrays.input("teacher", teacher), teacherChannels, n, h, w, HostArrays.output(grad));
        return HostArrays.viaAddresses(count, new float[][] {student, teacher}, grad,
                (a, loss, g) -> attentionTransfer(a[0], studentChannels, a[1], teacherChannels, n, h, w, p, distance,
                        eps, scale, loss, g, 0));
    }

    /**
     * Soft-target cross entropy on logits of n·k·spatial floats (K is the second dimension, spatial the
     * positions: 1 for classification); returns the loss and writes the gradient into {@code grad} unless it is
     * {@code null}.
     */
    default float softTargetCe(float[] studentLogits, float[] teacherLogits, int n, int k, int spatial, float tau,
            float scale, float[] grad) {
        long count = HostArrays.softTargetCe(this, HostArrays.input("studentLogits", studentLogits),
                HostArrays.input("teacherLogits", teacherLogits), n, k, spatial, HostArrays.output(grad));
        return HostArrays.viaAddresses(count, new float[][] {studentLogits, teacherLogits}, grad,
                (a, loss, g) -> softTargetCe(a[0], a[1], n, k, spatial, tau, scale, loss, g, 0));
    }

    // ---- direct FloatBuffers ----------------------------------------------------------------------------

    /** {@link #whitenedMse(float[], float[], int, int, int, int, WhitenMode, float, float, float[])} on buffers. */
    default float whitenedMse(FloatBuffer student, FloatBuffer teacher, int n, int c, int h, int w, WhitenMode mode,
            float eps, float scale, FloatBuffer grad) {
        HostArrays.whitenedMse(this, HostArrays.input("student", student), HostArrays.input("teacher", teacher), n, c,
                h, w, HostArrays.output(grad));
        return HostArrays.viaBuffers(new FloatBuffer[] {student, teacher}, grad,
                (a, loss, g) -> whitenedMse(a[0], a[1], n, c, h, w, mode, eps, scale, loss, g, 0));
    }

    /** {@link #attentionTransfer(float[], int, float[], int, int, int, int, float, AttentionDistance, float,
     *  float, float[])} on buffers. */
    default float attentionTransfer(FloatBuffer student, int studentChannels, FloatBuffer teacher,
            int teacherChannels, int n, int h, int w, float p, AttentionDistance distance, float eps, float scale,
            FloatBuffer grad) {
        HostArrays.attentionTransfer(this, HostArrays.input("student", student), studentChannels,
                HostArrays.input("teacher", teacher), teacherChannels, n, h, w, HostArrays.output(grad));
        return HostArrays.viaBuffers(new FloatBuffer[] {student, teacher}, grad,
                (a, loss, g) -> attentionTransfer(a[0], studentChannels, a[1], teacherChannels, n, h, w, p, distance,
                        eps, scale, loss, g, 0));
    }

    /** {@link #softTargetCe(float[], float[], int, int, int, float, float, float[])} on buffers. */
    default float softTargetCe(FloatBuffer studentLogits, FloatBuffer teacherLogits, int n, int k, int spatial,
            float tau, float scale, FloatBuffer grad) {
        HostArrays.softTargetCe(this, HostArrays.input("studentLogits", studentLogits),
                HostArrays.input("teacherLogits", teacherLogits), n, k, spatial, HostArrays.output(grad));
        return HostArrays.viaBuffers(new FloatBuffer[] {studentLogits, teacherLogits}, grad,
                (a, loss, g) -> softTargetCe(a[0], a[1], n, k, spatial, tau, scale, loss, g, 0));
    }
}
