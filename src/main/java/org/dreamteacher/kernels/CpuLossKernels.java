package org.dreamteacher.kernels;

import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_attention_transfer_f32;
import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_soft_target_ce_f32;
import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_whitened_mse_f32;

import org.bytedeco.pytorch.Tensor;

/** Backend {@code cpu}: the project's multi-threaded C++ kernels on host memory. */
public final class CpuLossKernels extends NativeLossKernels {
    public static final String NAME = "cpu";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String unavailableReason() {
        return NativeLibrary.loadError();
    }

    @Override
    public boolean devicePointers() {
        return false;
    }

    @Override
    boolean cudaTensors() {
        return false;
    }

    @Override
    long streamOf(Tensor tensor) {
        return 0;
    }

    @Override
    DeviceScope deviceScope(Tensor tensor) {
        return DeviceScope.NONE;
    }

    @Override
    public void whitenedMse(long student, long teacher, long n, long c, long h, long w, WhitenMode mode, float eps,
            float gradScale, long loss, long gradStudent, long stream) {
        NativeStatus.check(dt_whitened_mse_f32(student, teacher, n, c, h, w, mode.code, eps, gradScale, loss,
                gradStudent));
    }

    @Override
    public void attentionTransfer(long student, long cs, long teacher, long ct, long n, long h, long w, float poolP,
            AttentionDistance distance, float eps, float gradScale, long loss, long gradStudent, long stream) {
        NativeStatus.check(dt_attention_transfer_f32(student, cs, teacher, ct, n, h, w, poolP, distance.code, eps,
                gradScale, loss, gradStudent));
    }

    @Override
    public void softTargetCe(long studentLogits, long teacherLogits, long n, long k, long positions,
            float temperature, float gradScale, long loss, long gradStudent, long stream) {
        NativeStatus.check(dt_soft_target_ce_f32(studentLogits, teacherLogits, n, k, positions, temperature,
                gradScale, loss, gradStudent));
    }
}
