package org.dreamteacher.benchmarks;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.torch.kernels.ReferenceLossKernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/** Soft-target cross entropy, forward + student gradient: our cpu kernel vs softmax/log_softmax + autograd. */
@State(Scope.Benchmark)
public class SoftTargetCeBenchmark extends KernelBenchmark {
    /** n, k, positions. */
    @Param({"64x10x1", "4096x1000x1", "16x21x4096"})
    public String shape;

    @Param({"1", "4"})
    public float temperature;

    private long[] d;

    @Override
    protected long bytesMoved() {
        return 3L * 4 * KernelState.count(KernelState.shape(shape));
    }

    @Setup(Level.Trial)
    public void setUp() {
        d = KernelState.shape(shape);
        // logits with a spread like a trained classifier's
        allocate(KernelState.randn(1, d).mul(new Scalar(3.0)), KernelState.randn(2, d).mul(new Scalar(3.0)));
    }

    @Benchmark
    public float fusedRaw() {
        cpu.softTargetCe(studentAddress, teacherAddress, d[0], d[1], d[2], temperature, 1f, loss.address(),
                grad.address(), 0);
        return loss.get(0);
    }

    @Benchmark
    public float fusedArray() {
        return cpu.softTargetCe(studentArray, teacherArray, (int) d[0], (int) d[1], (int) d[2], temperature, 1f,
                gradArray);
    }

    @Benchmark
    public float fusedBuffer() {
        return cpu.softTargetCe(studentBuffer, teacherBuffer, (int) d[0], (int) d[1], (int) d[2], temperature, 1f,
                gradBuffer);
    }

    @Benchmark
    public float fusedTensor() {
        try (PointerScope scope = new PointerScope()) {
            return cpuTensors.softTargetCe(student, teacher, temperature, 1f, true).lossValue();
        }
    }

    /** -(softmax(t/τ) · log_softmax(s/τ)).sum(1).mean() and backward. */
    @Benchmark
    public float libtorch(Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = student.detach().set_requires_grad(true);
            Tensor l = ReferenceLossKernels.softTargetCeLoss(s, teacher, temperature);
            l.backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());
            bh.consume(s.grad());
            return l.item_float();
        }
    }
}
