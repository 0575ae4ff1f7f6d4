package org.dreamteacher.torch.kernels;

import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.BackendUnavailableException;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.CpuLossKernels;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.kernels.TestArrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The Tensor API's argument checks, backend discovery and selection, and the reference backend's raw API. */
class TensorApiTest {
    private PointerScope scope;

    @BeforeEach
    void open() {
        TestArrays.gaussian(0, 1, 1, 0); // loads libtorch safely first
        scope = new PointerScope();
    }

    @AfterEach
    void close() {
        scope.close();
    }

    private static Tensor randn(long... shape) {
        return TestData.floats(TestArrays.gaussian(shape.length * 31L + shape[0], TestArrays.count(shape), 1, 0), shape);
    }

    private static void assertRejected(String expectedFragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expectedFragment), () -> "message '" + e.getMessage()
                + "' should contain '" + expectedFragment + "'");
    }

    @Test
    void everyBackendRejectsBadTensors() {
        for (String name : new String[] {"cpu", "reference", "auto"}) {
            TensorLossKernels k = TensorLossKernels.get(name);
            Tensor s = randn(2, 3, 4, 5);
            Tensor t = randn(2, 3, 4, 5);
            assertRejected("float32", () -> k.whitenedMse(s.to(ScalarType.Double), t));
            assertRejected("float32", () -> k.attentionTransfer(s, t.to(ScalarType.Half)));
            assertRejected("contiguous", () -> k.whitenedMse(s.transpose(2, 3), t.transpose(2, 3)));
            assertRejected("same shape", () -> k.whitenedMse(s, randn(2, 3, 5, 4)));
            assertRejected("4-D", () -> k.whitenedMse(randn(2, 3, 4), randn(2, 3, 4)));
            assertRejected("N, H and W", () -> k.attentionTransfer(s, randn(2, 7, 4, 6)));
            assertRejected("at least 2-D", () -> k.softTargetCe(randn(6), randn(6), 1f));
            assertRejected("same shape", () -> k.softTargetCe(randn(4, 10), randn(4, 11), 1f));
            assertRejected("undefined", () -> k.whitenedMse(new Tensor(), t));
            assertThrows(NullPointerException.class, () -> k.whitenedMse(null, t));
            assertRejected("'eps'", () -> k.whitenedMse(s, t, WhitenMode.PER_SAMPLE, -1f, 1f, true));
            assertRejected("'pool_p'", () -> k.attentionTransfer(s, t, Float.NaN, AttentionDistance.NORM, 1e-12f, 1f, true));
            assertRejected("'temperature'", () -> k.softTargetCe(randn(4, 10), randn(4, 10), 0f));
        }
    }

    @Test
    void deviceChecks() {
        // libtorch's "meta" device (shapes without storage) exists in every build, CUDA or not.
        Tensor meta = torch.empty(new long[] {2, 3, 4, 5}, new TensorOptions(new Device("meta")),
                new MemoryFormatOptional());
        assertRejected("needs CPU tensors, got a tensor on meta", () -> TensorLossKernels.get("cpu").whitenedMse(meta, meta));
        assertRejected("different devices", () -> TensorLossKernels.get("cpu").whitenedMse(randn(2, 3, 4, 5), meta));
        assertRejected("different devices", () -> TensorLossKernels.get("reference").softTargetCe(randn(2, 3, 4, 5), meta, 1f));
    }

    @Test
    void cpuAndReferenceAgreeOnTensors() {
        Tensor s = randn(3, 8, 5, 5);
        Tensor t = randn(3, 8, 5, 5);
        LossResult cpu = TensorLossKernels.get("cpu").whitenedMse(s, t);
        LossResult ref = TensorLossKernels.get("reference").whitenedMse(s, t);
        assertEquals(ref.lossValue(), cpu.lossValue(), 1e-5 * Math.abs(ref.lossValue()));
        assertEquals(ScalarType.Float, cpu.loss().scalar_type().intern());
        assertEquals(0, cpu.loss().dim());
        assertTrue(cpu.grad().allclose(ref.grad(), 1e-4, 1e-6, false));
        assertNull(TensorLossKernels.get("cpu").whitenedMse(s, t, WhitenMode.PER_SAMPLE, 1e-5f, 1f, false).grad());
        assertNull(TensorLossKernels.get("reference").whitenedMse(s, t, WhitenMode.PER_SAMPLE, 1e-5f, 1f, false).grad());
    }

    @Test
    void softTargetCeAcceptsSegmentationShapedLogits() {
        Tensor s = randn(2, 21, 6, 7);
        Tensor t = randn(2, 21, 6, 7);
        LossResult cpu = TensorLossKernels.get("cpu").softTargetCe(s, t, 4f);
        LossResult ref = TensorLossKernels.get("reference").softTargetCe(s, t, 4f);
        assertEquals(ref.lossValue(), cpu.lossValue(), 1e-5 * Math.abs(ref.lossValue()));
        assertTrue(cpu.grad().allclose(ref.grad(), 1e-4, 1e-7, false));
    }

    @Test
    void referenceRawApiWritesIntoHostMemory() {
        Tensor s = randn(2, 4, 3, 3);
        Tensor t = randn(2, 6, 3, 3);
        Tensor loss = TestData.floats(new float[1], 1);
        Tensor grad = TestData.floats(new float[TestArrays.count(2, 4, 3, 3)], 2, 4, 3, 3);
        Backends.get("reference").attentionTransfer(s.data_ptr().address(), 4, t.data_ptr().address(), 6, 2, 3, 3,
                2f, AttentionDistance.SQUARED, 1e-12f, 1f, loss.data_ptr().address(), grad.data_ptr().address(), 0);
        LossResult cpu = TensorLossKernels.get("cpu").attentionTransfer(s, t);
        assertEquals(cpu.lossValue(), loss.item_float(), 1e-5 * Math.abs(cpu.lossValue()));
        assertTrue(cpu.grad().allclose(grad, 1e-4, 1e-8, false));
    }

    @Test
    void backendsAreDiscoveredAndSelected() {
        assertTrue(Backends.all().keySet().containsAll(java.util.List.of("cpu", "cuda", "reference")));
        assertInstanceOf(CpuLossKernels.class, Backends.get("cpu"));
        assertInstanceOf(ReferenceLossKernels.class, Backends.get(" Reference "));
        assertEquals("auto", Backends.get("auto").name());
        assertSame(AutoTensorKernels.INSTANCE, TensorLossKernels.get("auto"));
        assertSame(Backends.get("reference"), TensorLossKernels.get("reference"));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> Backends.get("tpu"));
        assertTrue(unknown.getMessage().contains("cpu") && unknown.getMessage().contains("auto"), unknown.getMessage());

        String previous = System.getProperty(Backends.PROPERTY);
        try {
            System.setProperty(Backends.PROPERTY, "reference");
            assertInstanceOf(ReferenceLossKernels.class, Backends.selected());
            System.clearProperty(Backends.PROPERTY);
            String env = System.getenv(Backends.ENVIRONMENT);
            assertEquals(env == null || env.isBlank() ? "auto" : env, Backends.selectedName());
        } finally {
            if (previous == null) System.clearProperty(Backends.PROPERTY);
            else System.setProperty(Backends.PROPERTY, previous);
        }
    }

    @Test
    void autoSendsCpuTensorsToTheCpuBackend() {
        Tensor s = randn(4, 10);
        Tensor t = randn(4, 10);
        float viaAuto = TensorLossKernels.get("auto").softTargetCe(s, t, 2f).lossValue();
        float viaCpu = TensorLossKernels.get("cpu").softTargetCe(s, t, 2f).lossValue();
        assertEquals(viaCpu, viaAuto, 0f);
    }

    @Test
    void unavailableCudaBackendSaysWhyAndListsTheOthers() {
        LossKernels cuda = Backends.all().get("cuda");
        org.junit.jupiter.api.Assumptions.assumeTrue(!cuda.isAvailable(), "a CUDA device is present");
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.get("cuda"));
        assertTrue(e.getMessage().contains(cuda.unavailableReason()), e.getMessage());
        assertTrue(e.getMessage().contains("available: cpu, reference"), e.getMessage());
    }
}
