package org.dreamteacher.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * The tensor side shared by the backends that run the project's own kernels (cpu, cuda): check the tensors,
 * allocate the outputs on the inputs' device, and call the raw-address operation.
 */
abstract class NativeLossKernels implements LossKernels {

    /** Whether this backend reads CUDA tensors (else CPU tensors). */
    abstract boolean cudaTensors();

    /** The stream to enqueue on for a tensor of this backend (0 for host backends). */
    abstract long streamOf(Tensor tensor);

    /** Makes the tensor's device current for the duration of a call (no-op for host backends). */
    abstract DeviceScope deviceScope(Tensor tensor);

    @Override
    public LossResult whitenedMse(Tensor student, Tensor teacher, WhitenMode mode, float eps, float gradScale,
            boolean computeGrad) {
        long[] d = TensorChecks.whitenedMse(student, teacher);
        if (javaFiniteCheck()) FiniteCheck.whitenedMse(name() + " whitenedMse", student, teacher, d);
        return call(student, computeGrad, (loss, grad, stream) -> whitenedMse(address(student), address(teacher),
                d[0], d[1], d[2], d[3], mode, eps, gradScale, loss, grad, stream));
    }

    @Override
    public LossResult attentionTransfer(Tensor student, Tensor teacher, float poolP, AttentionDistance distance,
            float eps, float gradScale, boolean computeGrad) {
        long[] d = TensorChecks.attentionTransfer(student, teacher);
        if (javaFiniteCheck()) FiniteCheck.attentionTransfer(name() + " attentionTransfer", student, teacher, d);
        return call(student, computeGrad, (loss, grad, stream) -> attentionTransfer(address(student), d[1],
                address(teacher), d[2], d[0], d[3], d[4], poolP, distance, eps, gradScale, loss, grad, stream));
    }

    @Override
    public LossResult softTargetCe(Tensor studentLogits, Tensor teacherLogits, float temperature, float gradScale,
            boolean computeGrad) {
        long[] d = TensorChecks.softTargetCe(studentLogits, teacherLogits);
        if (javaFiniteCheck()) FiniteCheck.softTargetCe(name() + " softTargetCe", studentLogits, teacherLogits, d);
        return call(studentLogits, computeGrad, (loss, grad, stream) -> softTargetCe(address(studentLogits),
                address(teacherLogits), d[0], d[1], d[2], temperature, gradScale, loss, grad, stream));
    }

    /**
     * Whether the tensor inputs are checked for NaN and infinities here, with libtorch: when the
     * {@link FiniteCheck} is on and the C ABI cannot do it (device memory). The cpu backend's check runs in the
     * C ABI.
     */
    private boolean javaFiniteCheck() {
        return cudaTensors() && FiniteCheck.enabled();
    }

    @FunctionalInterface
    private interface RawCall {
        void run(long loss, long grad, long stream);
    }

    private LossResult call(Tensor student, boolean computeGrad, RawCall raw) {
        TensorChecks.requireDevice(name(), cudaTensors(), student);
        Tensor loss = student.new_empty(new long[0]);
        Tensor grad = computeGrad ? student.new_empty(student.sizes().vec().get()) : null;
        try (DeviceScope device = deviceScope(student)) {
            raw.run(address(loss), grad == null ? 0 : address(grad), streamOf(student));
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

    /** A scope that makes a device current and restores the previous one on close. */
    interface DeviceScope extends AutoCloseable {
        DeviceScope NONE = () -> {};

        @Override
        void close();
    }
}
