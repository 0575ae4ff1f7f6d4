package org.dreamteacher.kernels;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.kernels.bindings.DreamTeacherNative;

/**
 * The non-finite input policy of the loss kernels, and its optional check.
 *
 * <p><b>Policy.</b> Inputs are not inspected by default: a NaN, +Inf or -Inf element in any input tensor
 * propagates to the loss, which is then NaN or infinite (never a finite value that hides it); the gradient may
 * then hold NaN or infinities too. This holds for every backend and is tested (the native test program,
 * the fuzz targets and {@code NonFiniteTest}).
 *
 * <p><b>Check.</b> With the check on, every loss call first scans its input tensors and, at the first NaN or
 * infinity, throws {@link NonFiniteException} naming the tensor and the element, before anything is written:
 * <pre>
 * dt_whitened_mse_f32: tensor 'teacher' holds a non-finite value (nan) at index 17 (n=0, c=0, h=3, w=2)
 * </pre>
 * It costs one extra read of the inputs (and, for CUDA tensors, a synchronisation with the device). It is
 * process-wide and off by default; turn it on with {@link #setEnabled(boolean)}, the system property
 * {@value #PROPERTY}{@code =true}, or the environment variable {@value #ENVIRONMENT}{@code =1} (which the C ABI
 * reads too). Where it runs: the cpu backend (raw addresses and tensors) checks in the C ABI
 * ({@code dt_set_check_finite}); the cuda and reference backends check tensors with libtorch. The cuda backend's
 * raw-address operations are not checked (device memory, asynchronous).
 */
public final class FiniteCheck {
    /** System property that turns the check on at start-up ({@code true}) or off ({@code false}). */
    public static final String PROPERTY = "dreamteacher.checkFinite";
    /** Environment variable that turns the check on ({@code 1}) unless the property says otherwise. */
    public static final String ENVIRONMENT = "DT_CHECK_FINITE";

    /** The setting when the native library is not loaded (otherwise the C ABI holds it). */
    private static volatile boolean fallback;

    static {
        Boolean property = propertySetting();
        fallback = property != null ? property : "1".equals(System.getenv(ENVIRONMENT));
    }

    /** The value of {@value #PROPERTY}, or {@code null} when it is not set. */
    static Boolean propertySetting() {
        String property = System.getProperty(PROPERTY);
        return property == null || property.isBlank() ? null : Boolean.parseBoolean(property.trim());
    }

    private FiniteCheck() {}

    /** Whether the check is on. */
    public static boolean enabled() {
        if (NativeLibrary.loadError() == null) return DreamTeacherNative.dt_check_finite() == 1;
        return fallback;
    }

    /** Turns the check on or off, for the whole process. */
    public static void setEnabled(boolean on) {
        fallback = on;
        if (NativeLibrary.loadError() == null) DreamTeacherNative.dt_set_check_finite(on ? 1 : 0);
    }

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
            throw new NonFiniteException(message(op, name, value, index, dims, dimNames), name, index);
        }
    }

    /** The C ABI's message format (dreamteacher.h). */
    static String message(String op, String name, float value, long index, long[] dims, String[] dimNames) {
        long[] coord = new long[dims.length];
        long rest = index;
        for (int i = dims.length - 1; i >= 0; i--) {
            coord[i] = rest % dims[i];
            rest /= dims[i];
        }
        StringBuilder where = new StringBuilder();
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) where.append(", ");
            where.append(dimNames[i]).append('=').append(coord[i]);
        }
        String kind = Float.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf";
        return op + ": tensor '" + name + "' holds a non-finite value (" + kind + ") at index " + index + " (" + where
                + ")";
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
