package org.dreamteacher.torch.kernels;

import java.util.Arrays;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The Java-side checks of tensor arguments, in one place for every backend: defined, float32, contiguous,
 * the right number of dimensions, matching shapes and one device. Sizes and scalar arguments are checked by
 * the native layer (or, for the reference backend, by the same rules in {@link ReferenceLossKernels}).
 */
final class TensorChecks {
    private TensorChecks() {}

    /** Shape {n, c, h, w} of a whitened-MSE call. */
    static long[] whitenedMse(Tensor student, Tensor teacher) {
        long[] s = checked("whitenedMse", "student", student, 4, 4);
        long[] t = checked("whitenedMse", "teacher", teacher, 4, 4);
        if (!Arrays.equals(s, t)) {
            throw new IllegalArgumentException("whitenedMse: student " + Arrays.toString(s)
                    + " and teacher " + Arrays.toString(t) + " must have the same shape (N,C,H,W)");
        }
        sameDevice("whitenedMse", student, teacher);
        return s;
    }

    /** Shape {n, cs, ct, h, w} of an attention-transfer call. */
    static long[] attentionTransfer(Tensor student, Tensor teacher) {
        long[] s = checked("attentionTransfer", "student", student, 4, 4);
        long[] t = checked("attentionTransfer", "teacher", teacher, 4, 4);
        if (s[0] != t[0] || s[2] != t[2] || s[3] != t[3]) {
            throw new IllegalArgumentException("attentionTransfer: student " + Arrays.toString(s) + " and teacher "
                    + Arrays.toString(t) + " must agree in N, H and W (channels may differ)");
        }
        sameDevice("attentionTransfer", student, teacher);
        return new long[] {s[0], s[1], t[1], s[2], s[3]};
    }

    /** Shape {n, k, positions} of a soft-target cross-entropy call on (N,K) or (N,K,d1,...) logits. */
    static long[] softTargetCe(Tensor studentLogits, Tensor teacherLogits) {
        long[] s = checked("softTargetCe", "studentLogits", studentLogits, 2, Integer.MAX_VALUE);
        long[] t = checked("softTargetCe", "teacherLogits", teacherLogits, 2, Integer.MAX_VALUE);
        if (!Arrays.equals(s, t)) {
            throw new IllegalArgumentException("softTargetCe: studentLogits " + Arrays.toString(s)
                    + " and teacherLogits " + Arrays.toString(t) + " must have the same shape");
        }
        sameDevice("softTargetCe", studentLogits, teacherLogits);
        long positions = 1;
        for (int i = 2; i < s.length; i++) positions = Math.multiplyExact(positions, s[i]);
        return new long[] {s[0], s[1], positions};
    }

    /** Rejects tensors on a device this backend cannot read. */
    static void requireDevice(String backend, boolean cuda, Tensor tensor) {
        if (cuda ? !tensor.is_cuda() : !tensor.is_cpu()) {
            throw new IllegalArgumentException("the " + backend + " backend needs " + (cuda ? "CUDA" : "CPU")
                    + " tensors, got a tensor on " + deviceName(tensor)
                    + (cuda ? "" : "; use the cuda backend (or 'auto') for CUDA tensors"));
        }
    }

    private static long[] checked(String op, String name, Tensor t, int minDim, int maxDim) {
        if (t == null) throw new NullPointerException(op + ": " + name + " is null");
        if (t.isNull() || !t.defined()) throw new IllegalArgumentException(op + ": " + name + " is an undefined tensor");
        if (t.scalar_type().intern() != ScalarType.Float) {
            throw new IllegalArgumentException(op + ": " + name + " must be float32, got " + t.scalar_type().intern());
        }
        long dim = t.dim();
        if (dim < minDim || dim > maxDim) {
            String expected = minDim == maxDim ? minDim + "-D" : "at least " + minDim + "-D";
            throw new IllegalArgumentException(op + ": " + name + " must be " + expected + ", got " + dim + "-D "
                    + Arrays.toString(t.sizes().vec().get()));
        }
        if (!t.is_contiguous()) {
            throw new IllegalArgumentException(op + ": " + name + " must be contiguous (call .contiguous() first)");
        }
        return t.sizes().vec().get();
    }

    private static void sameDevice(String op, Tensor a, Tensor b) {
        String da = deviceName(a);
        String db = deviceName(b);
        if (!da.equals(db)) {
            throw new IllegalArgumentException(op + ": inputs on different devices: " + da + " and " + db);
        }
    }

    static String deviceName(Tensor t) {
        return t.device().str().getString();
    }
}
