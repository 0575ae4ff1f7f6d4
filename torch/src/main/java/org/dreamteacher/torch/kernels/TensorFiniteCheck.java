package org.dreamteacher.torch.kernels;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.kernels.FiniteCheck;
import org.dreamteacher.kernels.NonFiniteException;

/**
 * The optional non-finite input check ({@link FiniteCheck}) on libtorch tensors, for the backends whose inputs
 * the C ABI cannot scan (CUDA tensors, the reference backend). Same message as the C ABI's.
 */
final class TensorFiniteCheck {
    private TensorFiniteCheck() {}

    /**
     * Throws {@link NonFiniteException} if {@code t} holds a NaN or an infinity (any device, float tensors), naming
     * it {@code name} and giving the first bad element's flat index and its coordinates in {@code dims} (a view of
     * the tensor's shape with the same element count, named by {@code dimNames}).
     */
    static void require(String op, String name, Tensor t, long[] dims, String[] dimNames) {
        try (PointerScope scope = new PointerScope()) {
            Tensor bad = t.isfinite().logical_not().flatten();
            if (!bad.any().item_bool()) return;
            long index = bad.to(ScalarType.Byte).argmax().item_long(); // the first maximum: the first bad element
            float value = t.flatten().select(0, index).item_float();
            throw new NonFiniteException(FiniteCheck.message(op, name, value, index, dims, dimNames), name, index);
        }
    }

    static final String[] NCHW = {"n", "c", "h", "w"};
    static final String[] AT_STUDENT = {"n", "cs", "h", "w"};
    static final String[] AT_TEACHER = {"n", "ct", "h", "w"};
    static final String[] NKP = {"n", "k", "p"};

    /** The inputs of a whitened-MSE call on tensors of shape d = {n, c, h, w}. */
    static void whitenedMse(String op, Tensor student, Tensor teacher, long[] d) {
        require(op, "student", student, d, NCHW);
        require(op, "teacher", teacher, d, NCHW);
    }

    /** The inputs of an attention-transfer call, d = {n, cs, ct, h, w}. */
    static void attentionTransfer(String op, Tensor student, Tensor teacher, long[] d) {
        require(op, "student", student, new long[] {d[0], d[1], d[3], d[4]}, AT_STUDENT);
        require(op, "teacher", teacher, new long[] {d[0], d[2], d[3], d[4]}, AT_TEACHER);
    }

    /** The inputs of a soft-target cross-entropy call, d = {n, k, positions}. */
    static void softTargetCe(String op, Tensor studentLogits, Tensor teacherLogits, long[] d) {
        require(op, "student_logits", studentLogits, d, NKP);
        require(op, "teacher_logits", teacherLogits, d, NKP);
    }
}
