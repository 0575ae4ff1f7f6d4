package org.dreamteacher.kernels;

import static org.dreamteacher.kernels.bindings.DreamTeacherNative.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The C ABI called directly through the JavaCPP bindings, on JavaCPP-allocated host memory (no libtorch):
 * forward-only calls, and every bad argument of the contract: status DT_ERR_INVALID_ARGUMENT, a message naming
 * the argument, and output buffers left untouched.
 */
class CAbiTest {
    private static final float SENTINEL = -12345.5f;
    private static final long LARGE = 1L << 20; // four of these overflow int64 elements

    private FloatPointer student;
    private FloatPointer teacher;
    private FloatPointer loss;
    private FloatPointer grad;

    @BeforeEach
    void allocate() {
        // 2 x 3 x 4 x 5 = 120 floats; also used as (2, 3, 20) logits and a (2,3|5,4,5) attention pair.
        student = new FloatPointer(TestArrays.gaussian(1, 200, 1, 0));
        teacher = new FloatPointer(TestArrays.gaussian(2, 200, 1, 0));
        loss = new FloatPointer(1);
        grad = new FloatPointer(200);
        fillSentinels();
    }

    @AfterEach
    void free() {
        student.close();
        teacher.close();
        loss.close();
        grad.close();
    }

    private void fillSentinels() {
        loss.put(0, SENTINEL);
        for (int i = 0; i < 200; i++) grad.put(i, SENTINEL);
    }

    private void assertOutputsUntouched(String label) {
        assertEquals(SENTINEL, loss.get(0), label + ": loss was written");
        for (int i = 0; i < 200; i++) assertEquals(SENTINEL, grad.get(i), label + ": grad was written");
    }

    @Test
    void versionAndThreads() {
        assertFalse(dt_version().getString().isEmpty());
        assertTrue(dt_num_threads() >= 1);
    }

    @Test
    void forwardOnlyMatchesForwardWithGradient() {
        long s = student.address(), t = teacher.address(), l = loss.address(), g = grad.address();
        assertEquals(DT_OK, dt_whitened_mse_f32(s, t, 2, 3, 4, 5, DT_WHITEN_PER_PIXEL, 1e-5f, 1f, l, g));
        float withGrad = loss.get(0);
        fillSentinels();
        assertEquals(DT_OK, dt_whitened_mse_f32(s, t, 2, 3, 4, 5, DT_WHITEN_PER_PIXEL, 1e-5f, 1f, l, 0));
        assertEquals(withGrad, loss.get(0), 0f);
        assertEquals(SENTINEL, grad.get(0), "forward-only call wrote the gradient");

        assertEquals(DT_OK, dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2f, DT_AT_NORM, 1e-12f, 1f, l, g));
        withGrad = loss.get(0);
        fillSentinels();
        assertEquals(DT_OK, dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2f, DT_AT_NORM, 1e-12f, 1f, l, 0));
        assertEquals(withGrad, loss.get(0), 0f);
        assertEquals(SENTINEL, grad.get(0));

        assertEquals(DT_OK, dt_soft_target_ce_f32(s, t, 2, 3, 20, 4f, 1f, l, g));
        withGrad = loss.get(0);
        fillSentinels();
        assertEquals(DT_OK, dt_soft_target_ce_f32(s, t, 2, 3, 20, 4f, 1f, l, 0));
        assertEquals(withGrad, loss.get(0), 0f);
        assertEquals(SENTINEL, grad.get(0));
        assertTrue(withGrad > 0);
    }

    /** A call expected to fail, the argument name its message must contain. */
    record BadCall(String label, String argument, Call call) {
        @Override
        public String toString() {
            return label;
        }
    }

    @FunctionalInterface
    interface Call {
        int run(long s, long t, long l, long g);
    }

    static Stream<BadCall> badCalls() {
        List<BadCall> b = new ArrayList<>();
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        // whitened MSE
        b.add(new BadCall("mse null student", "student", (s, t, l, g) -> dt_whitened_mse_f32(0, t, 2, 3, 4, 5, 0, 1e-5f, 1f, l, g)));
        b.add(new BadCall("mse null teacher", "teacher", (s, t, l, g) -> dt_whitened_mse_f32(s, 0, 2, 3, 4, 5, 0, 1e-5f, 1f, l, g)));
        b.add(new BadCall("mse null loss", "loss", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, 1e-5f, 1f, 0, g)));
        b.add(new BadCall("mse n = 0", "n", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 0, 3, 4, 5, 0, 1e-5f, 1f, l, g)));
        b.add(new BadCall("mse c = -1", "c", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, -1, 4, 5, 0, 1e-5f, 1f, l, g)));
        b.add(new BadCall("mse h = 0", "h", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 0, 5, 0, 1e-5f, 1f, l, g)));
        b.add(new BadCall("mse w = -7", "w", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 4, -7, 0, 1e-5f, 1f, l, g)));
        b.add(new BadCall("mse size overflow", "n, c, h, w", (s, t, l, g) -> dt_whitened_mse_f32(s, t, LARGE, LARGE, LARGE, LARGE, 0, 1e-5f, 1f, l, g)));
        b.add(new BadCall("mse mode 2", "mode", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 2, 1e-5f, 1f, l, g)));
        b.add(new BadCall("mse mode -1", "mode", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 4, 5, -1, 1e-5f, 1f, l, g)));
        b.add(new BadCall("mse eps 0", "eps", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, 0f, 1f, l, g)));
        b.add(new BadCall("mse eps -1", "eps", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, -1f, 1f, l, g)));
        b.add(new BadCall("mse eps NaN", "eps", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, nan, 1f, l, g)));
        b.add(new BadCall("mse eps inf", "eps", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, inf, 1f, l, g)));
        b.add(new BadCall("mse grad_scale NaN", "grad_scale", (s, t, l, g) -> dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, 1e-5f, nan, l, g)));
        // attention transfer
        b.add(new BadCall("at null student", "student", (s, t, l, g) -> dt_attention_transfer_f32(0, 3, t, 5, 2, 4, 5, 2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at null teacher", "teacher", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, 0, 5, 2, 4, 5, 2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at null loss", "loss", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2f, 0, 1e-12f, 1f, 0, g)));
        b.add(new BadCall("at cs = 0", "cs", (s, t, l, g) -> dt_attention_transfer_f32(s, 0, t, 5, 2, 4, 5, 2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at ct = -2", "ct", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, -2, 2, 4, 5, 2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at n = 0", "n", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 0, 4, 5, 2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at h = 0", "h", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 0, 5, 2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at w = 0", "w", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 0, 2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at student size overflow", "n, cs, h, w", (s, t, l, g) -> dt_attention_transfer_f32(s, LARGE, t, 5, LARGE, LARGE, LARGE, 2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at teacher size overflow", "n, ct, h, w", (s, t, l, g) -> dt_attention_transfer_f32(s, 1, t, LARGE, LARGE, LARGE, 2048, 2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at pool_p 0", "pool_p", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 0f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at pool_p -2", "pool_p", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, -2f, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at pool_p NaN", "pool_p", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, nan, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at pool_p inf", "pool_p", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, inf, 0, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at distance 2", "distance", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2f, 2, 1e-12f, 1f, l, g)));
        b.add(new BadCall("at eps 0", "eps", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2f, 0, 0f, 1f, l, g)));
        b.add(new BadCall("at eps NaN", "eps", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2f, 0, nan, 1f, l, g)));
        b.add(new BadCall("at grad_scale inf", "grad_scale", (s, t, l, g) -> dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2f, 0, 1e-12f, inf, l, g)));
        // soft-target CE
        b.add(new BadCall("ce null student", "student_logits", (s, t, l, g) -> dt_soft_target_ce_f32(0, t, 2, 3, 20, 4f, 1f, l, g)));
        b.add(new BadCall("ce null teacher", "teacher_logits", (s, t, l, g) -> dt_soft_target_ce_f32(s, 0, 2, 3, 20, 4f, 1f, l, g)));
        b.add(new BadCall("ce null loss", "loss", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, 2, 3, 20, 4f, 1f, 0, g)));
        b.add(new BadCall("ce n = 0", "n", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, 0, 3, 20, 4f, 1f, l, g)));
        b.add(new BadCall("ce k = 0", "k", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, 2, 0, 20, 4f, 1f, l, g)));
        b.add(new BadCall("ce positions = -1", "positions", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, 2, 3, -1, 4f, 1f, l, g)));
        b.add(new BadCall("ce size overflow", "n, k, positions", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, LARGE, LARGE, LARGE << 20, 4f, 1f, l, g)));
        b.add(new BadCall("ce temperature 0", "temperature", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, 2, 3, 20, 0f, 1f, l, g)));
        b.add(new BadCall("ce temperature -4", "temperature", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, 2, 3, 20, -4f, 1f, l, g)));
        b.add(new BadCall("ce temperature NaN", "temperature", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, 2, 3, 20, nan, 1f, l, g)));
        b.add(new BadCall("ce temperature inf", "temperature", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, 2, 3, 20, inf, 1f, l, g)));
        b.add(new BadCall("ce grad_scale NaN", "grad_scale", (s, t, l, g) -> dt_soft_target_ce_f32(s, t, 2, 3, 20, 4f, nan, l, g)));
        // the CUDA entry points check their arguments the same way, GPU or not
        b.add(new BadCall("cuda mse eps -1", "eps", (s, t, l, g) -> dt_cuda_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, -1f, 1f, l, g, 0)));
        b.add(new BadCall("cuda at distance 7", "distance", (s, t, l, g) -> dt_cuda_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2f, 7, 1e-12f, 1f, l, g, 0)));
        b.add(new BadCall("cuda ce null loss", "loss", (s, t, l, g) -> dt_cuda_soft_target_ce_f32(s, t, 2, 3, 20, 4f, 1f, 0, g, 0)));
        return b.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badCalls")
    void badArgumentIsRejectedAndNamed(BadCall bad) {
        int status = bad.call.run(student.address(), teacher.address(), loss.address(), grad.address());
        assertEquals(DT_ERR_INVALID_ARGUMENT, status, bad.label);
        String message = dt_last_error().getString();
        assertTrue(message.contains("'" + bad.argument + "'"), () -> bad.label + ": message '" + message
                + "' does not name '" + bad.argument + "'");
        assertOutputsUntouched(bad.label);
    }

    @Test
    void javaRawApiRaisesTheNativeMessage() {
        LossKernels cpu = Backends.get("cpu");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu.softTargetCe(
                student.address(), teacher.address(), 2, 3, 20, -1f, 1f, loss.address(), grad.address(), 0));
        assertTrue(e.getMessage().contains("'temperature'"), e.getMessage());
        assertOutputsUntouched("java raw api");
    }

    @Test
    void cudaEntryPointsReportUnavailabilityWithoutGpu() {
        org.junit.jupiter.api.Assumptions.assumeTrue(dt_cuda_available() == 0, "a CUDA device is present");
        int status = dt_cuda_whitened_mse_f32(student.address(), teacher.address(), 2, 3, 4, 5, 0, 1e-5f, 1f,
                loss.address(), grad.address(), 0);
        assertEquals(DT_ERR_UNSUPPORTED, status);
        assertTrue(dt_last_error().getString().contains("unavailable"), dt_last_error().getString());
        assertOutputsUntouched("cuda without device");
    }
}
