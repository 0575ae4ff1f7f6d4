package org.dreamteacher.kernels;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * The checks of the {@code float[]} and {@link FloatBuffer} forms of {@link LossKernels}, and their generic
 * implementation on top of the raw-address form (copies into native memory and back). Only lengths, byte
 * order and directness are checked here, because no native code can see how long a Java array is; sizes and
 * scalars keep being checked by the native layer, in one place.
 */
final class HostArrays {
    private HostArrays() {}

    /** The length of a required array argument. */
    static long input(String name, float[] a) {
        if (a == null) throw new IllegalArgumentException(name + " is null");
        return a.length;
    }

    /** The floats from a required buffer argument's position on; it must be direct and in native order. */
    static long input(String name, FloatBuffer b) {
        if (b == null) throw new IllegalArgumentException(name + " is null");
        direct(name, b);
        return b.remaining();
    }

    /** The length of the optional gradient array, or -1 when it is null (forward only). */
    static long output(float[] grad) {
        return grad == null ? -1 : grad.length;
    }

    /** The floats from the optional gradient buffer's position on, or -1 when it is null (forward only). */
    static long output(FloatBuffer grad) {
        if (grad == null) return -1;
        direct("grad", grad);
        if (grad.isReadOnly()) throw new IllegalArgumentException("grad is a read-only buffer");
        return grad.remaining();
    }

    private static void direct(String name, FloatBuffer b) {
        if (!b.isDirect()) {
            throw new IllegalArgumentException(name + " must be a direct FloatBuffer (or use the float[] form)");
        }
        if (b.order() != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException(name + " must be in the platform's byte order (" + ByteOrder.nativeOrder()
                    + "), got " + b.order() + ": use ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder())"
                    + ".asFloatBuffer()");
        }
    }

    /** Host memory only: a backend on device pointers cannot read Java arrays or buffers. */
    private static void requireHost(LossKernels k, String op) {
        if (k.devicePointers()) {
            throw new UnsupportedOperationException(op + ": the " + k.name() + " backend takes device pointers only; "
                    + "use the cpu backend for Java arrays and buffers");
        }
    }

    /** Whitened MSE: checks the lengths; returns the student's element count. */
    static long whitenedMse(LossKernels k, long student, long teacher, int n, int c, int h, int w, long grad) {
        requireHost(k, "whitenedMse");
        long count = elements("whitenedMse", "n·c·h·w", n, c, h, w);
        enough("whitenedMse", "student", student, count, "n·c·h·w");
        enough("whitenedMse", "teacher", teacher, count, "n·c·h·w");
        if (grad >= 0) enough("whitenedMse", "grad", grad, count, "n·c·h·w");
        return count;
    }

    /** Attention transfer: checks the lengths; returns the student's element count. */
    static long attentionTransfer(LossKernels k, long student, int studentChannels, long teacher, int teacherChannels,
            int n, int h, int w, long grad) {
        requireHost(k, "attentionTransfer");
        long count = elements("attentionTransfer", "n·studentChannels·h·w", n, studentChannels, h, w);
        long teacherCount = elements("attentionTransfer", "n·teacherChannels·h·w", n, teacherChannels, h, w);
        enough("attentionTransfer", "student", student, count, "n·studentChannels·h·w");
        enough("attentionTransfer", "teacher", teacher, teacherCount, "n·teacherChannels·h·w");
        if (grad >= 0) enough("attentionTransfer", "grad", grad, count, "n·studentChannels·h·w");
        return count;
    }

    /** Soft-target cross entropy: checks the lengths; returns the student's element count. */
    static long softTargetCe(LossKernels k, long student, long teacher, int n, int classes, int spatial, long grad) {
        requireHost(k, "softTargetCe");
        long count = elements("softTargetCe", "n·k·spatial", n, classes, spatial);
        enough("softTargetCe", "studentLogits", student, count, "n·k·spatial");
        enough("softTargetCe", "teacherLogits", teacher, count, "n·k·spatial");
        if (grad >= 0) enough("softTargetCe", "grad", grad, count, "n·k·spatial");
        return count;
    }

    /**
     * The product of the dimensions, or 0 when one is not positive: the native layer then rejects the call with
     * its own message, before it reads anything.
     */
    private static long elements(String op, String what, int... dims) {
        long count = 1;
        for (int d : dims) {
            if (d <= 0) return 0;
            count *= d; // both factors are at most 2^31 - 1: no overflow
            if (count > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(op + ": " + what + " exceeds the " + Integer.MAX_VALUE
                        + " floats a Java array or buffer can hold");
            }
        }
        return count;
    }

    private static void enough(String op, String name, long have, long need, String what) {
        if (have < need) {
            throw new IllegalArgumentException(op + ": " + name + " holds " + have + " floats, but " + what + " = "
                    + need + " are needed");
        }
    }

    /** A raw-address operation: input addresses, the loss address and the gradient address (0 = none). */
    @FunctionalInterface
    interface RawCall {
        void run(long[] inputs, long loss, long grad);
    }

    /** Copies the inputs into native memory, runs the raw-address form, copies the loss and gradient back. */
    static float viaAddresses(long count, float[][] inputs, float[] grad, RawCall call) {
        try (PointerScope scope = new PointerScope()) {
            long[] addresses = new long[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                addresses[i] = new FloatPointer(Math.max(1, inputs[i].length)).put(inputs[i]).address();
            }
            FloatPointer loss = new FloatPointer(1);
            FloatPointer g = grad == null ? null : new FloatPointer(Math.max(1, count));
            call.run(addresses, loss.address(), g == null ? 0 : g.address());
            if (g != null) g.get(grad, 0, (int) count);
            return loss.get(0);
        }
    }

    /** Runs the raw-address form on the buffers' memory from their positions on. */
    static float viaBuffers(FloatBuffer[] inputs, FloatBuffer grad, RawCall call) {
        try (PointerScope scope = new PointerScope()) {
            long[] addresses = new long[inputs.length];
            for (int i = 0; i < inputs.length; i++) addresses[i] = address(inputs[i]);
            FloatPointer loss = new FloatPointer(1);
            call.run(addresses, loss.address(), grad == null ? 0 : address(grad));
            return loss.get(0);
        }
    }

    /** The address of a direct buffer's element at its position. */
    private static long address(FloatBuffer b) {
        return new Pointer(b).address() + (long) b.position() * Float.BYTES;
    }
}
