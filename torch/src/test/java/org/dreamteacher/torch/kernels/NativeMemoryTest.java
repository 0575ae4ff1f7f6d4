package org.dreamteacher.torch.kernels;

import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.ResidentMemory;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.kernels.TestArrays;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/** Windows of 100,000 calls keep the process's resident memory flat ({@link ResidentMemory}). */
class NativeMemoryTest {
    private static final int CALLS = 100_000;
    private static final int WINDOWS = 3;
    private static final long ALLOWED_GROWTH_KB = 8 * 1024;

    interface Body {
        void call(int i);
    }

    /** A warm-up (thread pool, scratch buffers, JIT), then windows of {@link #CALLS} calls. */
    private static void assertFlat(String label, Body body) throws Exception {
        for (int i = 0; i < 20_000; i++) body.call(i);
        ResidentMemory.assertFlat(label, WINDOWS, ALLOWED_GROWTH_KB, () -> {
            for (int i = 0; i < CALLS; i++) body.call(i);
        });
    }

    @Test
    void rawAddressCallsOfAllKernels() throws Exception {
        LossKernels cpu = Backends.get("cpu");
        try (FloatPointer s = new FloatPointer(TestArrays.gaussian(1, 2 * 8 * 6 * 6, 1, 0));
                FloatPointer t = new FloatPointer(TestArrays.gaussian(2, 2 * 8 * 6 * 6, 1, 0));
                FloatPointer loss = new FloatPointer(1); FloatPointer grad = new FloatPointer(2 * 8 * 6 * 6)) {
            long sa = s.address(), ta = t.address(), la = loss.address(), ga = grad.address();
            WhitenMode[] modes = WhitenMode.values(); // once: values() allocates a new array on each call
            assertFlat("raw API", i -> {
                switch (i % 3) {
                    case 0 -> cpu.whitenedMse(sa, ta, 2, 8, 6, 6, modes[i & 1], 1e-5f, 1f, la, ga, 0);
                    case 1 -> cpu.attentionTransfer(sa, 8, ta, 8, 2, 6, 6, 2f, AttentionDistance.NORM, 1e-12f, 1f,
                            la, ga, 0);
                    default -> cpu.softTargetCe(sa, ta, 2, 8, 36, 4f, 1f, la, ga, 0);
                }
            });
        }
    }

    @Test
    void tensorCallsInsideScopes() throws Exception {
        TensorLossKernels cpu = TensorLossKernels.get("cpu");
        Tensor s = TestData.floats(TestArrays.gaussian(3, 2 * 8 * 6 * 6, 1, 0), 2, 8, 6, 6);
        Tensor t = TestData.floats(TestArrays.gaussian(4, 2 * 8 * 6 * 6, 1, 0), 2, 8, 6, 6);
        assertFlat("Tensor API", i -> {
            try (PointerScope scope = new PointerScope()) {
                cpu.whitenedMse(s, t).lossValue();
            }
        });
    }
}
