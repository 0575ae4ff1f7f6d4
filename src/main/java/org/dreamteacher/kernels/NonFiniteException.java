package org.dreamteacher.kernels;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dreamteacher.kernels.bindings.DreamTeacherNative;

/**
 * Raised when the optional non-finite input check ({@link FiniteCheck}) finds a NaN or an infinity in an input
 * tensor. The message names the tensor and the first bad element, e.g.
 * {@code dt_whitened_mse_f32: tensor 'teacher' holds a non-finite value (nan) at index 17 (n=0, c=0, h=3, w=2)};
 * tensors are named as in the C ABI ({@code student}, {@code teacher}, {@code student_logits},
 * {@code teacher_logits}) and the index is the flat row-major index into the tensor.
 */
public final class NonFiniteException extends KernelException {
    private static final Pattern FORMAT =
            Pattern.compile("tensor '([^']+)' holds a non-finite value \\((nan|inf|-inf)\\) at index (\\d+)");

    private final String tensor;
    private final long index;

    public NonFiniteException(String message, String tensor, long index) {
        super(DreamTeacherNative.DT_ERR_NON_FINITE, message);
        this.tensor = tensor;
        this.index = index;
    }

    /** From a {@code DT_ERR_NON_FINITE} message of the C ABI (its format is fixed in {@code dreamteacher.h}). */
    static NonFiniteException fromNativeMessage(String message) {
        Matcher m = FORMAT.matcher(message);
        if (!m.find()) return new NonFiniteException(message, "", -1);
        return new NonFiniteException(message, m.group(1), Long.parseLong(m.group(3)));
    }

    /** The input tensor that holds the value: {@code student}, {@code teacher}, {@code student_logits}... */
    public String tensor() {
        return tensor;
    }

    /** Flat row-major index of the first non-finite element of {@link #tensor()} ({@code -1} if unknown). */
    public long index() {
        return index;
    }
}
