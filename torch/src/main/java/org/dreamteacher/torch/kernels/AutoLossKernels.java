package org.dreamteacher.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * Backend {@code auto}: on tensors, cuda for CUDA tensors and cpu otherwise; raw addresses cannot tell host
 * from device memory, so they go to cpu (use {@code Backends.get("cuda")} for device pointers).
 */
final class AutoLossKernels implements LossKernels {
    static final AutoLossKernels INSTANCE = new AutoLossKernels();

    private AutoLossKernels() {}

    private static LossKernels forTensor(Tensor t) {
        return Backends.get(t != null && !t.isNull() && t.is_cuda() ? CudaLossKernels.NAME : CpuLossKernels.NAME);
    }

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
    public LossResult whitenedMse(Tensor student, Tensor teacher, WhitenMode mode, float eps, float gradScale,
            boolean computeGrad) {
        return forTensor(student).whitenedMse(student, teacher, mode, eps, gradScale, computeGrad);
    }

    @Override
    public LossResult attentionTransfer(Tensor student, Tensor teacher, float poolP, AttentionDistance distance,
            float eps, float gradScale, boolean computeGrad) {
        return forTensor(student).attentionTransfer(student, teacher, poolP, distance, eps, gradScale, computeGrad);
    }

    @Override
    public LossResult softTargetCe(Tensor studentLogits, Tensor teacherLogits, float temperature, float gradScale,
            boolean computeGrad) {
        return forTensor(studentLogits).softTargetCe(studentLogits, teacherLogits, temperature, gradScale,
                computeGrad);
    }
}
