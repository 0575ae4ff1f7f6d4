package org.dreamteacher.benchmarks;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.torch.kernels.ReferenceLossKernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/** Attention transfer, forward + student gradient: our cpu kernel vs the libtorch composite chain + autograd. */
@State(Scope.Benchmark)
public class AttentionTransferBenchmark extends KernelBenchmark {
    /** n, student channels, teacher channels, h, w. */
    @Param({"64x256x512x16x16"})
    public String shape;

    @Param({"2", "3"})
    public float poolP;

    @Param({"SQUARED"})
    public AttentionDistance distance;

    private long[] d;

    @Override
    protected long bytesMoved() {
        long[] x = KernelState.shape(shape);
        return 4L * x[0] * x[3] * x[4] * (2 * x[1] + x[2]); // read s, t; write grad
    }

    @Setup(Level.Trial)
    public void setUp() {
        d = KernelState.shape(shape);
        allocate(KernelState.randn(1, d[0], d[1], d[3], d[4]), KernelState.randn(2, d[0], d[2], d[3], d[4]));
    }

    @Benchmark
    public float fusedRaw() {
        cpu.attentionTransfer(studentAddress, d[1], teacherAddress, d[2], d[0], d[3], d[4], poolP, distance,
                LossKernels.ATTENTION_EPS, 1f, loss.address(), grad.address(), 0);
        return loss.get(0);
    }

    @Benchmark
    public float fusedArray() {
        return cpu.attentionTransfer(studentArray, (int) d[1], teacherArray, (int) d[2], (int) d[0], (int) d[3],
                (int) d[4], poolP, distance, LossKernels.ATTENTION_EPS, 1f, gradArray);
    }

    @Benchmark
    public float fusedBuffer() {
        return cpu.attentionTransfer(studentBuffer, (int) d[1], teacherBuffer, (int) d[2], (int) d[0], (int) d[3],
                (int) d[4], poolP, distance, LossKernels.ATTENTION_EPS, 1f, gradBuffer);
    }

    @Benchmark
    public float fusedTensor() {
        try (PointerScope scope = new PointerScope()) {
            return cpuTensors.attentionTransfer(student, teacher, poolP, distance, LossKernels.ATTENTION_EPS, 1f, true)
                    .lossValue();
        }
    }

    /** abs().pow(p).sum(1), normalize, distance, backward. */
    @Benchmark
    public float libtorch(Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = student.detach().set_requires_grad(true);
            Tensor l = ReferenceLossKernels.attentionTransferLoss(s, teacher, poolP, distance,
                    LossKernels.ATTENTION_EPS);
            l.backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());
            bh.consume(s.grad());
            return l.item_float();
        }
    }
}
