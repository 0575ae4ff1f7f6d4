package org.dreamteacher.kernels;

import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_attention_transfer_f32;
import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_soft_target_ce_f32;
import static org.dreamteacher.kernels.bindings.DreamTeacherNative.dt_whitened_mse_f32;

import java.nio.FloatBuffer;
import org.dreamteacher.kernels.bindings.DreamTeacherNative;

/**
 * Backend {@code cpu}: the project's multi-threaded C++ kernels on host memory. Java arrays are pinned for the
 * call and buffers read in place: no copy either way.
 */
public final class CpuLossKernels implements LossKernels {
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

    @Override
    public float whitenedMse(float[] student, float[] teacher, int n, int c, int h, int w, WhitenMode mode, float eps,
            float scale, float[] grad) {
        HostArrays.whitenedMse(this, HostArrays.input("student", student), HostArrays.input("teacher", teacher), n, c,
                h, w, HostArrays.output(grad));
        return withLoss(loss -> DreamTeacherNative.dt_whitened_mse_f32(student, teacher, n, c, h, w, mode.code, eps, scale,
                loss, grad));
    }

    @Override
    public float attentionTransfer(float[] student, int studentChannels, float[] teacher, int teacherChannels, int n,
            int h, int w, float p, AttentionDistance distance, float eps, float scale, float[] grad) {
        HostArrays.attentionTransfer(this, HostArrays.input("student", student), studentChannels,
                HostArrays.input("teacher", teacher), teacherChannels, n, h, w, HostArrays.output(grad));
        return withLoss(loss -> DreamTeacherNative.dt_attention_transfer_f32(student, studentChannels, teacher,
                teacherChannels, n, h, w, p, distance.code, eps, scale, loss, grad));
    }

    @Override
    public float softTargetCe(float[] studentLogits, float[] teacherLogits, int n, int k, int spatial, float tau,
            float scale, float[] grad) {
        HostArrays.softTargetCe(this, HostArrays.input("studentLogits", studentLogits),
                HostArrays.input("teacherLogits", teacherLogits), n, k, spatial, HostArrays.output(grad));
        return withLoss(loss -> DreamTeacherNative.dt_soft_target_ce_f32(studentLogits, teacherLogits, n, k, spatial, tau,
                scale, loss, grad));
    }

    @Override
    public float whitenedMse(FloatBuffer student, FloatBuffer teacher, int n, int c, int h, int w, WhitenMode mode,
            float eps, float scale, FloatBuffer grad) {
        HostArrays.whitenedMse(this, HostArrays.input("student", student), HostArrays.input("teacher", teacher), n, c,
                h, w, HostArrays.output(grad));
        return withLoss(loss -> DreamTeacherNative.dt_whitened_mse_f32(student, teacher, n, c, h, w, mode.code, eps, scale,
                loss, grad));
    }

    @Override
    public float attentionTransfer(FloatBuffer student, int studentChannels, FloatBuffer teacher, int teacherChannels,
            int n, int h, int w, float p, AttentionDistance distance, float eps, float scale, FloatBuffer grad) {
        HostArrays.attentionTransfer(this, HostArrays.input("student", student), studentChannels,
                HostArrays.input("teacher", teacher), teacherChannels, n, h, w, HostArrays.output(grad));
        return withLoss(loss -> DreamTeacherNative.dt_attention_transfer_f32(student, studentChannels, teacher,
                teacherChannels, n, h, w, p, distance.code, eps, scale, loss, grad));
    }

    @Override
    public float softTargetCe(FloatBuffer studentLogits, FloatBuffer teacherLogits, int n, int k, int spatial,
            float tau, float scale, FloatBuffer grad) {
        HostArrays.softTargetCe(this, HostArrays.input("studentLogits", studentLogits),
                HostArrays.input("teacherLogits", teacherLogits), n, k, spatial, HostArrays.output(grad));
        return withLoss(loss -> DreamTeacherNative.dt_soft_target_ce_f32(studentLogits, teacherLogits, n, k, spatial, tau,
                scale, loss, grad));
    }

    @FunctionalInterface
    private interface LossCall {
        int run(float[] loss);
    }

    /** Runs a C ABI call that writes its loss into a one-float array, and returns the loss (or throws). */
    private static float withLoss(LossCall call) {
        float[] loss = new float[1];
        NativeStatus.check(call.run(loss));
        return loss[0];
    }
}
