package org.dreamteacher.kernels.bindings;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.CriticalRegion;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the C ABI in {@code src/main/native/include/dreamteacher.h}, one-to-one.
 *
 * <p>Pointers are passed as raw addresses ({@code long}) so that callers can hand over the memory of
 * libtorch tensors, {@code ByteBuffer}s or JavaCPP pointers without any wrapping object per call. For the
 * {@code dt_*} functions they are host addresses; for {@code dt_cuda_*} device addresses plus a
 * {@code cudaStream_t} (0 = default stream). Argument checks happen in the native code; see
 * {@link org.dreamteacher.kernels.NativeStatus} for turning a status into an exception.
 *
 * <p>The CPU functions also take Java arrays and direct buffers. Arrays are pinned for the call
 * ({@code GetPrimitiveArrayCritical}, no copy on HotSpot; the garbage collector waits until the kernel returns),
 * buffers are read from their position on. Their lengths are checked by the caller
 * ({@code org.dreamteacher.kernels.LossKernels}), not here.
 *
 * <p>{@code libdtlink.so} is a linker script written by CMake that pulls the static kernel archive and,
 * when CUDA was built, the static CUDA runtime.
 */
@Platform(value = "linux-x86_64", include = "dreamteacher.h", link = "dtlink")
public final class DreamTeacherNative {
    static {
        Loader.load();
    }

    private DreamTeacherNative() {}

    public static final int DT_OK = 0;
    public static final int DT_ERR_INVALID_ARGUMENT = 1;
    public static final int DT_ERR_UNSUPPORTED = 2;
    public static final int DT_ERR_CUDA = 3;
    public static final int DT_ERR_NON_FINITE = 4;

    public static final int DT_WHITEN_PER_SAMPLE = 0;
    public static final int DT_WHITEN_PER_PIXEL = 1;
    public static final int DT_AT_SQUARED = 0;
    public static final int DT_AT_NORM = 1;

    /** Forces the native library to load (the static initialiser does the work). */
    public static void load() {}

    public static native @Cast("dt_status") int dt_whitened_mse_f32(
            @Cast("const float*") long student, @Cast("const float*") long teacher,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long h, @Cast("int64_t") long w,
            @Cast("int32_t") int mode, float eps, float gradScale,
            @Cast("float*") long loss, @Cast("float*") long gradStudent);

    public static native @Cast("dt_status") int dt_attention_transfer_f32(
            @Cast("const float*") long student, @Cast("int64_t") long cs,
            @Cast("const float*") long teacher, @Cast("int64_t") long ct,
            @Cast("int64_t") long n, @Cast("int64_t") long h, @Cast("int64_t") long w,
            float poolP, @Cast("int32_t") int distance, float eps, float gradScale,
            @Cast("float*") long loss, @Cast("float*") long gradStudent);

    public static native @Cast("dt_status") int dt_soft_target_ce_f32(
            @Cast("const float*") long studentLogits, @Cast("const float*") long teacherLogits,
            @Cast("int64_t") long n, @Cast("int64_t") long k, @Cast("int64_t") long positions,
            float temperature, float gradScale,
            @Cast("float*") long loss, @Cast("float*") long gradStudent);

    // ---- the CPU functions on Java arrays (pinned) and direct buffers ----

    @CriticalRegion
    public static native @Cast("dt_status") int dt_whitened_mse_f32(
            @Const float[] student, @Const float[] teacher,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long h, @Cast("int64_t") long w,
            @Cast("int32_t") int mode, float eps, float gradScale, float[] loss, float[] gradStudent);

    @CriticalRegion
    public static native @Cast("dt_status") int dt_attention_transfer_f32(
            @Const float[] student, @Cast("int64_t") long cs, @Const float[] teacher, @Cast("int64_t") long ct,
            @Cast("int64_t") long n, @Cast("int64_t") long h, @Cast("int64_t") long w,
            float poolP, @Cast("int32_t") int distance, float eps, float gradScale, float[] loss, float[] gradStudent);

    @CriticalRegion
    public static native @Cast("dt_status") int dt_soft_target_ce_f32(
            @Const float[] studentLogits, @Const float[] teacherLogits,
            @Cast("int64_t") long n, @Cast("int64_t") long k, @Cast("int64_t") long positions,
            float temperature, float gradScale, float[] loss, float[] gradStudent);

    @CriticalRegion
    public static native @Cast("dt_status") int dt_whitened_mse_f32(
            @Const FloatBuffer student, @Const FloatBuffer teacher,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long h, @Cast("int64_t") long w,
            @Cast("int32_t") int mode, float eps, float gradScale, float[] loss, FloatBuffer gradStudent);

    @CriticalRegion
    public static native @Cast("dt_status") int dt_attention_transfer_f32(
            @Const FloatBuffer student, @Cast("int64_t") long cs, @Const FloatBuffer teacher, @Cast("int64_t") long ct,
            @Cast("int64_t") long n, @Cast("int64_t") long h, @Cast("int64_t") long w,
            float poolP, @Cast("int32_t") int distance, float eps, float gradScale, float[] loss,
            FloatBuffer gradStudent);

    @CriticalRegion
    public static native @Cast("dt_status") int dt_soft_target_ce_f32(
            @Const FloatBuffer studentLogits, @Const FloatBuffer teacherLogits,
            @Cast("int64_t") long n, @Cast("int64_t") long k, @Cast("int64_t") long positions,
            float temperature, float gradScale, float[] loss, FloatBuffer gradStudent);

    public static native @Cast("dt_status") int dt_cuda_whitened_mse_f32(
            @Cast("const float*") long student, @Cast("const float*") long teacher,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long h, @Cast("int64_t") long w,
            @Cast("int32_t") int mode, float eps, float gradScale,
            @Cast("float*") long loss, @Cast("float*") long gradStudent, @Cast("void*") long stream);

    public static native @Cast("dt_status") int dt_cuda_attention_transfer_f32(
            @Cast("const float*") long student, @Cast("int64_t") long cs,
            @Cast("const float*") long teacher, @Cast("int64_t") long ct,
            @Cast("int64_t") long n, @Cast("int64_t") long h, @Cast("int64_t") long w,
            float poolP, @Cast("int32_t") int distance, float eps, float gradScale,
            @Cast("float*") long loss, @Cast("float*") long gradStudent, @Cast("void*") long stream);

    public static native @Cast("dt_status") int dt_cuda_soft_target_ce_f32(
            @Cast("const float*") long studentLogits, @Cast("const float*") long teacherLogits,
            @Cast("int64_t") long n, @Cast("int64_t") long k, @Cast("int64_t") long positions,
            float temperature, float gradScale,
            @Cast("float*") long loss, @Cast("float*") long gradStudent, @Cast("void*") long stream);

    public static native @Cast("const char*") BytePointer dt_last_error();

    public static native @Cast("const char*") BytePointer dt_version();

    public static native @Cast("int32_t") int dt_num_threads();

    public static native void dt_set_num_threads(@Cast("int32_t") int n);

    public static native void dt_set_check_finite(@Cast("int32_t") int on);

    public static native @Cast("int32_t") int dt_check_finite();

    public static native @Cast("int32_t") int dt_cuda_available();
}
