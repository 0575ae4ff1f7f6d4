package org.dreamteacher.torch.kernels;

import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.CpuLossKernels;
import org.dreamteacher.kernels.CudaLossKernels;
import org.dreamteacher.kernels.WhitenMode;

/** Backend {@code auto} on tensors: cuda for CUDA tensors, cpu otherwise. */
final class AutoTensorKernels implements TensorLossKernels {
    static final AutoTensorKernels INSTANCE = new AutoTensorKernels();

    private AutoTensorKernels() {}

    private static TensorLossKernels forTensor(Tensor t) {
        return TensorLossKernels.of(Backends.get(t != null && !t.isNull() && t.is_cuda() ? CudaLossKernels.NAME
                : CpuLossKernels.NAME));
    }

    @Override
    public String name() {
        return Backends.AUTO;
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
