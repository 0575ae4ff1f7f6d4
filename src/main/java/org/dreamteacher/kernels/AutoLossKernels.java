package org.dreamteacher.kernels;

import java.nio.FloatBuffer;

/**
 * Backend {@code auto}: raw addresses, arrays and buffers cannot tell host from device memory, so they go to cpu
 * (use {@code Backends.get("cuda")} for device pointers). On libtorch tensors {@code auto} picks by the tensor's
 * device ({@code dreamteacher-torch}).
 */
final class AutoLossKernels implements LossKernels {
    static final AutoLossKernels INSTANCE = new AutoLossKernels();

    private AutoLossKernels() {}

    private static LossKernels host() {
        return Backends.get(CpuLossKernels.NAME);
    }

    @Override
    public String name() {
        return Backends.AUTO;
    }

    @Override
    public String unavailableReason() {
        // not host(): Backends.get throws for an unavailable backend, this method reports it
        return Backends.all().get(CpuLossKernels.NAME).unavailableReason();
    }

    @Override
    public boolean devicePointers() {
        return false;
    }

    @Override
    public void whitenedMse(long student, long teacher, long n, long c, long h, long w, WhitenMode mode, float eps,
            float gradScale, long loss, long gradStudent, long stream) {
        host().whitenedMse(student, teacher, n, c, h, w, mode, eps, gradScale, loss, gradStudent, stream);
    }

    @Override
    public void attentionTransfer(long student, long cs, long teacher, long ct, long n, long h, long w, float poolP,
            AttentionDistance distance, float eps, float gradScale, long loss, long gradStudent, long stream) {
        host().attentionTransfer(student, cs, teacher, ct, n, h, w, poolP, distance, eps, gradScale, loss,
                gradStudent, stream);
    }

    @Override
    public void softTargetCe(long studentLogits, long teacherLogits, long n, long k, long positions,
            float temperature, float gradScale, long loss, long gradStudent, long stream) {
        host().softTargetCe(studentLogits, teacherLogits, n, k, positions, temperature, gradScale, loss, gradStudent,
                stream);
    }

    @Override
    public float whitenedMse(float[] student, float[] teacher, int n, int c, int h, int w, WhitenMode mode, float eps,
            float scale, float[] grad) {
        return host().whitenedMse(student, teacher, n, c, h, w, mode, eps, scale, grad);
    }

    @Override
    public float attentionTransfer(float[] student, int studentChannels, float[] teacher, int teacherChannels, int n,
            int h, int w, float p, AttentionDistance distance, float eps, float scale, float[] grad) {
        return host().attentionTransfer(student, studentChannels, teacher, teacherChannels, n, h, w, p, distance, eps,
                scale, grad);
    }

    @Override
    public float softTargetCe(float[] studentLogits, float[] teacherLogits, int n, int k, int spatial, float tau,
            float scale, float[] grad) {
        return host().softTargetCe(studentLogits, teacherLogits, n, k, spatial, tau, scale, grad);
    }

    @Override
    public float whitenedMse(FloatBuffer student, FloatBuffer teacher, int n, int c, int h, int w, WhitenMode mode,
            float eps, float scale, FloatBuffer grad) {
        return host().whitenedMse(student, teacher, n, c, h, w, mode, eps, scale, grad);
    }

    @Override
    public float attentionTransfer(FloatBuffer student, int studentChannels, FloatBuffer teacher, int teacherChannels,
            int n, int h, int w, float p, AttentionDistance distance, float eps, float scale, FloatBuffer grad) {
        return host().attentionTransfer(student, studentChannels, teacher, teacherChannels, n, h, w, p, distance, eps,
                scale, grad);
    }

    @Override
    public float softTargetCe(FloatBuffer studentLogits, FloatBuffer teacherLogits, int n, int k, int spatial,
            float tau, float scale, FloatBuffer grad) {
        return host().softTargetCe(studentLogits, teacherLogits, n, k, spatial, tau, scale, grad);
    }
}
