package org.dreamteacher.kernels;

import org.dreamteacher.kernels.bindings.DreamTeacherNative;

/** Loads the JNI library once and remembers why it failed, so that backends can report it. */
public final class NativeLibrary {
    private static final String LOAD_ERROR = tryLoad();

    private NativeLibrary() {}

    private static String tryLoad() {
        try {
            DreamTeacherNative.load();
            // The C ABI reads DT_CHECK_FINITE itself; the system property, when set, overrides it.
            Boolean checkFinite = FiniteCheck.propertySetting();
            if (checkFinite != null) DreamTeacherNative.dt_set_check_finite(checkFinite ? 1 : 0);
            // Every available processor unless OMP_NUM_THREADS says otherwise, as for libtorch. DT_NUM_THREADS,
            // which the C ABI reads itself, still wins.
            if (System.getenv("DT_NUM_THREADS") == null) {
                DreamTeacherNative.dt_set_num_threads(ThreadChoice.defaultChoice().threads());
            }
            return null;
        } catch (Throwable e) {
            return "the native library could not be loaded (" + e + ")";
        }
    }

    /** {@code null} if the native library is loaded, otherwise why not. */
    public static String loadError() {
        return LOAD_ERROR;
    }

    /** The native library's version string. */
    public static String version() {
        requireLoaded();
        return DreamTeacherNative.dt_version().getString();
    }

    /** Threads used by the CPU kernels. */
    public static int numThreads() {
        requireLoaded();
        return DreamTeacherNative.dt_num_threads();
    }

    /**
     * Sets the threads used by the CPU kernels; n {@code <= 0} restores the C library's own default (DT_NUM_THREADS,
     * else the hardware's thread count). Results do not depend on it.
     */
    public static void setNumThreads(int n) {
        requireLoaded();
        DreamTeacherNative.dt_set_num_threads(n);
    }

    private static void requireLoaded() {
        if (LOAD_ERROR != null) throw new BackendUnavailableException(LOAD_ERROR);
    }
}
