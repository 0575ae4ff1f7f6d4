package org.dreamteacher.benchmarks;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.torch.kernels.ReferenceLossKernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/** Whitened MSE, forward + student gradient: our cpu kernel vs layer_norm + mse_loss + autograd in libtorch. */
@State(Scope.Benchmark)
public class WhitenedMseBenchmark extends KernelBenchmark {
    @Param({"64x256x16x16", "32x512x8x8", "16x64x64x64"})
    public String shape;

    @Param({"PER_SAMPLE", "PER_PIXEL"})
    public WhitenMode mode;

    private long[] d;

    @Override
    protected long bytesMoved() {
        return 3L * 4 * KernelState.count(KernelState.shape(shape)); // read s, t; write grad
    }

    @Setup(Level.Trial)
    public void setUp() {
        d = KernelState.shape(shape);
        allocate(KernelState.randn(1, d), KernelState.randn(2, d));
    }

    /** Our kernel through the raw-address API into preallocated buffers (no Java allocation). */
    @Benchmark
    public float fusedRaw() {
        cpu.whitenedMse(studentAddress, teacherAddress, d[0], d[1], d[2], d[3], mode,
                LossKernels.WHITEN_EPS, 1f, loss.address(), grad.address(), 0);
        return loss.get(0);
    }

    /** Our kernel on Java arrays (pinned for the call; a one-float array for the loss is the only allocation). */
    @Benchmark
    public float fusedArray() {
        return cpu.whitenedMse(studentArray, teacherArray, (int) d[0], (int) d[1], (int) d[2], (int) d[3], mode,
                LossKernels.WHITEN_EPS, 1f, gradArray);
    }

    /** Our kernel on direct buffers (read in place). */
    @Benchmark
    public float fusedBuffer() {
        return cpu.whitenedMse(studentBuffer, teacherBuffer, (int) d[0], (int) d[1], (int) d[2], (int) d[3], mode,
                LossKernels.WHITEN_EPS, 1f, gradBuffer);
    }

    /** Our kernel through the Tensor API (allocates the outputs as tensors). */
    @Benchmark
    public float fusedTensor() {
        try (PointerScope scope = new PointerScope()) {
            return cpuTensors.whitenedMse(student, teacher, mode, LossKernels.WHITEN_EPS, 1f, true).lossValue();
        }
    }

    /** What a libtorch user writes: mse_loss(s, layer_norm(t)) and backward. */
    @Benchmark
    public float libtorch(Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = student.detach().set_requires_grad(true);
            Tensor l = ReferenceLossKernels.whitenedMseLoss(s, teacher, mode, LossKernels.WHITEN_EPS);
            l.backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());
            bh.consume(s.grad());
            return l.item_float();
        }
    }
}
