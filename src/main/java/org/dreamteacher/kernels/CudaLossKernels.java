package org.dreamteacher.kernels;

import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_cuda_attention_transfer_f32;
import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_cuda_available;
import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_cuda_soft_target_ce_f32;
import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_cuda_whitened_mse_f32;
import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_last_error;

/**
 * Backend {@code cuda}: the project's CUDA kernels. Raw addresses are device pointers and the operations
 * are asynchronous on the given stream ({@code cudaStream_t}, 0 = the default stream). Java arrays and buffers
 * are host memory and are refused; on libtorch CUDA tensors, see {@code dreamteacher-torch}.
 */
public final class CudaLossKernels implements LossKernels {
    public static final String NAME = "cuda";

    private static final String UNAVAILABLE = probe();

    private static String probe() {
        String loadError = NativeLibrary.loadError();
        if (loadError != null) return loadError;
        return dt_cuda_available() == 1 ? null : dt_last_error().getString();
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String unavailableReason() {
        return UNAVAILABLE;
    }

    @Override
    public boolean devicePointers() {
        return true;
    }

    @Override
    public void whitenedMse(long student, long teacher, long n, long c, long h, long w, WhitenMode mode, float eps,
            float gradScale, long loss, long gradStudent, long stream) {
        NativeStatus.check(dt_cuda_whitened_mse_f32(student, teacher, n, c, h, w, mode.code, eps, gradScale, loss,
                gradStudent, stream));
    }

    @Override
    public void attentionTransfer(long student, long cs, long teacher, long ct, long n, long h, long w, float poolP,
            AttentionDistance distance, float eps, float gradScale, long loss, long gradStudent, long stream) {
        NativeStatus.check(dt_cuda_attention_transfer_f32(student, cs, teacher, ct, n, h, w, poolP, distance.code,
                eps, gradScale, loss, gradStudent, stream));
    }

    @Override
    public void softTargetCe(long studentLogits, long teacherLogits, long n, long k, long positions,
            float temperature, float gradScale, long loss, long gradStudent, long stream) {
        NativeStatus.check(dt_cuda_soft_target_ce_f32(studentLogits, teacherLogits, n, k, positions, temperature,
                gradScale, loss, gradStudent, stream));
    }
}
