package org.dreamteacher.torch.kernels;

import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.kernels.TestArrays;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * The cuda backend against the cpu backend on CUDA tensors. Needs a GPU, our CUDA build and libtorch's CUDA
 * build on the class path; otherwise skipped, with the reason in the report. The GPU parity suite that runs
 * without a JDK is cuda/test/gpu_parity.py.
 */
class CudaBackendTest {
    /** Skips (and says why in the build log as well as the report) unless CUDA tensors can be made and used. */
    private static void requireGpu() {
        TestArrays.gaussian(0, 1, 1, 0);
        String why = Backends.all().get("cuda").unavailableReason();
        if (why == null && !torch.cuda_is_available()) {
            why = "libtorch on the class path is a CPU build, so there are no CUDA tensors to test with";
        }
        if (why != null) System.out.println("CudaBackendTest skipped: " + why);
        assumeTrue(why == null, "cuda backend unavailable: " + why);
    }

    @Test
    void matchesCpuOnCudaTensors() {
        requireGpu();
        try (PointerScope scope = new PointerScope()) {
            long[] shape = {4, 32, 9, 9};
            Tensor s = TestData.floats(TestArrays.gaussian(1, TestArrays.count(shape), 1, 0), shape);
            Tensor t = TestData.floats(TestArrays.gaussian(2, TestArrays.count(shape), 1, 0), shape);
            Device gpu = new Device("cuda:0");
            TensorLossKernels cuda = TensorLossKernels.get("auto");
            TensorLossKernels cpu = TensorLossKernels.get("cpu");
            for (WhitenMode mode : WhitenMode.values()) {
                LossResult g = cuda.whitenedMse(s.to(gpu, ScalarType.Float), t.to(gpu, ScalarType.Float), mode, 1e-5f, 1f, true);
                LossResult c = cpu.whitenedMse(s, t, mode, 1e-5f, 1f, true);
                assertTrue(Math.abs(g.lossValue() - c.lossValue()) <= 1e-5 * Math.abs(c.lossValue()));
                assertTrue(g.grad().cpu().allclose(c.grad(), 1e-4, 1e-7, false));
            }
            LossResult g = cuda.attentionTransfer(s.to(gpu, ScalarType.Float), t.to(gpu, ScalarType.Float));
            LossResult c = cpu.attentionTransfer(s, t);
            assertTrue(Math.abs(g.lossValue() - c.lossValue()) <= 1e-5 * Math.abs(c.lossValue()));
            g = cuda.softTargetCe(s.to(gpu, ScalarType.Float), t.to(gpu, ScalarType.Float), 4f);
            c = cpu.softTargetCe(s, t, 4f);
            assertTrue(Math.abs(g.lossValue() - c.lossValue()) <= 1e-5 * Math.abs(c.lossValue()));
        }
    }
}
