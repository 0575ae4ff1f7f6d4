package org.dreamteacher.kernels;

import org.dreamteacher.kernels.bindings.DreamTeacherNative;

/** Turns a C ABI status into the matching Java exception, with the native message. */
public final class NativeStatus {
    private NativeStatus() {}

    /**
     * Returns normally for {@code DT_OK}; otherwise throws with {@code dt_last_error()} of this thread:
     * {@link IllegalArgumentException} for a bad argument, {@link NonFiniteException} when the optional
     * {@link FiniteCheck} found a NaN or infinity, {@link UnsupportedOperationException} or {@link KernelException}.
     */
    public static void check(int status) {
        if (status == DreamTeacherNative.DT_OK) return;
        String message = DreamTeacherNative.dt_last_error().getString();
        switch (status) {
            case DreamTeacherNative.DT_ERR_INVALID_ARGUMENT:
                throw new IllegalArgumentException(message);
            case DreamTeacherNative.DT_ERR_UNSUPPORTED:
                throw new UnsupportedOperationException(message);
            case DreamTeacherNative.DT_ERR_NON_FINITE:
                throw NonFiniteException.fromNativeMessage(message);
            default:
                throw new KernelException(status, message);
        }
    }
}
