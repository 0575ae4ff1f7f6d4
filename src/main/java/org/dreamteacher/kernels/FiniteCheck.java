package org.dreamteacher.kernels;

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
 * reads too). Where it runs: the cpu backend (raw addresses, arrays, buffers and tensors) checks in the C ABI
 * ({@code dt_set_check_finite}); on libtorch tensors the cuda and reference backends check with libtorch
 * ({@code dreamteacher-torch}). The cuda backend's raw-address operations are not checked (device memory,
 * asynchronous).
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
     * The C ABI's message format (dreamteacher.h) for the first non-finite element of input {@code name}: its flat
     * row-major {@code index} into a tensor of shape {@code dims}, whose dimensions are named {@code dimNames}.
     */
    public static String message(String op, String name, float value, long index, long[] dims, String[] dimNames) {
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
}
