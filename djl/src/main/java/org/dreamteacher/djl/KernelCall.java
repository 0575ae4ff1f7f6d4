package org.dreamteacher.djl;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.CudaLossKernels;
import org.dreamteacher.kernels.LossKernels;

/**
 * What the three losses share: argument checks, the way from NDArrays to the kernels' {@link FloatBuffer} form
 * and back, and the scalar that carries the kernel's gradient into DJL's autograd.
 *
 * <p>Memory, on the CPU: a contiguous array is read through the direct view that {@code toByteBuffer(true)} gives
 * (DJL's PyTorch engine shares the tensor's memory: no copy); an engine that gives no direct buffer, or a
 * non-contiguous array, costs one copy. The kernel writes the gradient straight into the memory of a new array
 * that the engine owns, when the engine is PyTorch (an empty tensor, written through its direct view: no copy);
 * with other engines into a direct buffer from which {@link NDManager#create(java.nio.Buffer, Shape, DataType)}
 * makes the array (a copy, or none where the engine wraps direct buffers).
 */
final class KernelCall {
    private KernelCall() {}

    /** The kernels' host backend, found once. */
    private static final class Cpu {
        static final LossKernels KERNELS = Backends.get("cpu");
    }

    /** The kernel on the student's and teacher's floats; writes the gradient into {@code grad}, returns the loss. */
    @FunctionalInterface
    interface HostKernel {
        float run(FloatBuffer student, FloatBuffer teacher, FloatBuffer grad, LossKernels kernels);
    }

    /** Checks that a loss parameter is finite and positive. */
    static float positive(String name, float value) {
        if (!(value > 0) || !Float.isFinite(value)) {
            throw new IllegalArgumentException(name + " must be finite and > 0, got " + value);
        }
        return value;
    }

    /** Checks that {@code scale} is finite (it may be 0 or negative). */
    static float finite(String name, float value) {
        if (!Float.isFinite(value)) throw new IllegalArgumentException(name + " must be finite, got " + value);
        return value;
    }

    /** The one array of a list (as NDList.singletonOrThrow, with an IllegalArgumentException). */
    static NDArray single(String loss, String what, ai.djl.ndarray.NDList list) {
        if (list == null || list.size() != 1) {
            throw new IllegalArgumentException(loss + ": the " + what + " must be one array, got "
                    + (list == null ? "null" : list.size() + " arrays"));
        }
        return list.get(0);
    }

    /**
     * The student (the one prediction) and the teacher (the one label) of a loss call, each checked to be float32
     * with 1 to 2^31 - 1 elements: {@code {student, teacher}}.
     */
    static NDArray[] studentAndTeacher(String loss, ai.djl.ndarray.NDList labels, ai.djl.ndarray.NDList predictions) {
        NDArray teacher = single(loss, "labels (the teacher)", labels);
        NDArray student = single(loss, "predictions (the student)", predictions);
        float32(loss, "student (prediction)", student);
        float32(loss, "teacher (label)", teacher);
        return new NDArray[] {student, teacher};
    }

    /** Checks the dtype and the element count of an input (float32, at most 2^31 - 1 elements). */
    static void float32(String loss, String what, NDArray a) {
        if (a.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(loss + ": the " + what + " must be float32, got " + a.getDataType()
                    + " (convert with toType(DataType.FLOAT32, false))");
        }
        if (a.size() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(loss + ": the " + what + " has " + a.size() + " elements, more than the "
                    + Integer.MAX_VALUE + " one kernel call takes");
        }
        if (a.size() == 0) {
            throw new IllegalArgumentException(loss + ": the " + what + " is empty, shape " + a.getShape());
        }
    }

    /** A dimension as an int (shapes were checked to hold at most 2^31 - 1 elements). */
    static int dim(Shape shape, int axis) {
        return Math.toIntExact(shape.get(axis));
    }

    /**
     * Runs a kernel on a student and a teacher whose shapes were checked, and returns the scalar loss × scale
     * whose gradient with respect to {@code student} is the kernel's gradient (already × scale).
     */
    static NDArray evaluate(String loss, NDArray student, NDArray teacher, float scale, HostKernel kernel) {
        return evaluate(loss, student, teacher, scale, kernel, isPyTorch(student.getManager()));
    }

    /**
     * As {@link #evaluate(String, NDArray, NDArray, float, HostKernel)}; {@code gradientInPlace} says whether the
     * kernel may write the gradient through the direct view of a new array (engines whose {@code
     * toByteBuffer(true)} of a new contiguous array is its memory: PyTorch), or must write it into a direct buffer
     * that the engine then wraps or copies (any engine).
     */
    static NDArray evaluate(String loss, NDArray student, NDArray teacher, float scale, HostKernel kernel,
            boolean gradientInPlace) {
        Device device = student.getDevice();
        if (!device.equals(teacher.getDevice())) {
            throw new IllegalArgumentException(loss + ": the student is on " + device + " and the teacher on "
                    + teacher.getDevice() + "; both must be on one device");
        }
        if (device.isGpu()) throw onGpu(loss, device);
        NDManager manager = student.getManager();
        FloatBuffer s = floats(student);
        FloatBuffer t = floats(teacher);
        NDArray grad;
        float value;
        if (gradientInPlace) {
            grad = manager.create(student.getShape(), DataType.FLOAT32, device);
            ByteBuffer view = grad.toByteBuffer(true);
            if (!view.isDirect()) throw new IllegalStateException(loss + ": no direct view of a new PyTorch array");
            value = kernel.run(s, t, view.order(ByteOrder.nativeOrder()).asFloatBuffer(), Cpu.KERNELS);
        } else {
            ByteBuffer out = ByteBuffer.allocateDirect(Math.toIntExact(student.size() * Float.BYTES))
                    .order(ByteOrder.nativeOrder());
            value = kernel.run(s, t, out.asFloatBuffer(), Cpu.KERNELS);
            grad = manager.create(out, student.getShape(), DataType.FLOAT32);
        }
        return withGradient(student, grad, value * scale);
    }

    /**
     * A scalar whose value is {@code value} and whose gradient with respect to {@code x} is {@code grad}: s − s
     * with the second term cut from the tape, plus the value, where s = Σ x·grad.
     */
    static NDArray withGradient(NDArray x, NDArray grad, float value) {
        NDArray s = x.mul(grad).sum();
        return s.sub(s.stopGradient()).add(value);
    }

    private static boolean isPyTorch(NDManager manager) {
        return "PyTorch".equals(manager.getEngine().getEngineName());
    }

    /**
     * The float32 contents of a CPU array in a direct, native-order buffer: the engine's view where it gives one
     * ({@code toByteBuffer(true)}), else one copy.
     */
    private static FloatBuffer floats(NDArray a) {
        ByteBuffer b = a.toByteBuffer(true);
        if (b.isDirect() && b.order() == ByteOrder.nativeOrder()) return b.asFloatBuffer();
        ByteBuffer copy = ByteBuffer.allocateDirect(b.remaining()).order(ByteOrder.nativeOrder());
        copy.asFloatBuffer().put(b.asFloatBuffer());
        return copy.asFloatBuffer();
    }

    /**
     * The error for arrays on a GPU. The kernels' cuda backend takes device addresses, and DJL 0.36's NDArray API
     * gives no device address of an array (its PyTorch engine neither), so there is no way to hand one over.
     */
    private static RuntimeException onGpu(String loss, Device device) {
        LossKernels cuda = Backends.all().get(CudaLossKernels.NAME);
        String why = cuda == null ? "no cuda backend on the class path"
                : cuda.unavailableReason() != null ? "the cuda backend is unavailable: " + cuda.unavailableReason()
                : null;
        if (why != null) {
            return new IllegalStateException(loss + ": the arrays are on " + device + ", but " + why
                    + "; move them to the CPU (toDevice(Device.cpu(), false)) or use DJL's own loss there");
        }
        return new UnsupportedOperationException(loss + ": the arrays are on " + device + "; the cuda backend is "
                + "available but DJL's NDArray API gives no device address to hand it, so arrays on a GPU are not "
                + "supported yet; move them to the CPU (toDevice(Device.cpu(), false)) or use DJL's own loss there");
    }
}
