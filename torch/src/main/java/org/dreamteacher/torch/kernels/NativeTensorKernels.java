package org.dreamteacher.torch.kernels;

import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.FiniteCheck;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.WhitenMode;

/**
 * A raw-address backend (cpu, cuda) on tensors: check the tensors, allocate the outputs on the inputs' device,
 * and call the raw-address operation on their memory.
 */
final class NativeTensorKernels implements TensorLossKernels {
    private final LossKernels raw;
    /** Whether the backend reads CUDA tensors (device pointers), else CPU tensors. */
    private final boolean cuda;

    NativeTensorKernels(LossKernels raw) {
        this.raw = raw;
        this.cuda = raw.devicePointers();
    }

    @Override
    public String name() {
        return raw.name();
    }

    @Override
    public LossResult whitenedMse(Tensor student, Tensor teacher, WhitenMode mode, float eps, float gradScale,
            boolean computeGrad) {
        long[] d = TensorChecks.whitenedMse(student, teacher);
        if (javaFiniteCheck()) TensorFiniteCheck.whitenedMse(name() + " whitenedMse", student, teacher, d);
        return call(student, computeGrad, (loss, grad, stream) -> raw.whitenedMse(address(student), address(teacher),
                d[0], d[1], d[2], d[3], mode, eps, gradScale, loss, grad, stream));
    }

    @Override
    public LossResult attentionTransfer(Tensor student, Tensor teacher, float poolP, AttentionDistance distance,
            float eps, float gradScale, boolean computeGrad) {
        long[] d = TensorChecks.attentionTransfer(student, teacher);
        if (javaFiniteCheck()) TensorFiniteCheck.attentionTransfer(name() + " attentionTransfer", student, teacher, d);
        return call(student, computeGrad, (loss, grad, stream) -> raw.attentionTransfer(address(student), d[1],
                address(teacher), d[2], d[0], d[3], d[4], poolP, distance, eps, gradScale, loss, grad, stream));
    }

    @Override
    public LossResult softTargetCe(Tensor studentLogits, Tensor teacherLogits, float temperature, float gradScale,
            boolean computeGrad) {
        long[] d = TensorChecks.softTargetCe(studentLogits, teacherLogits);
        if (javaFiniteCheck()) {
            TensorFiniteCheck.softTargetCe(name() + " softTargetCe", studentLogits, teacherLogits, d);
        }
        return call(studentLogits, computeGrad, (loss, grad, stream) -> raw.softTargetCe(address(studentLogits),
                address(teacherLogits), d[0], d[1], d[2], temperature, gradScale, loss, grad, stream));
    }

    /**
     * Whether the tensor inputs are checked for NaN and infinities here, with libtorch: when the
     * {@link FiniteCheck} is on and the C ABI cannot do it (device memory). The cpu backend's check runs in the
     * C ABI.
     */
    private boolean javaFiniteCheck() {
        return cuda && FiniteCheck.enabled();
    }

    @FunctionalInterface
    private interface RawCall {
        void run(long loss, long grad, long stream);
    }

    private LossResult call(Tensor student, boolean computeGrad, RawCall call) {
        TensorChecks.requireDevice(name(), cuda, student);
        Tensor loss = student.new_empty(new long[0]);
        Tensor grad = computeGrad ? student.new_empty(student.sizes().vec().get()) : null;
        try (CudaStreams.DeviceScope device = cuda ? CudaStreams.deviceScope(student) : CudaStreams.DeviceScope.NONE) {
            call.run(address(loss), grad == null ? 0 : address(grad), cuda ? CudaStreams.currentStream(student) : 0);
        } catch (RuntimeException e) {
            loss.close();
            if (grad != null) grad.close();
            throw e;
        }
        return new LossResult(loss, grad);
    }

    static long address(Tensor t) {
        return t.data_ptr().address();
    }
}
