package org.dreamteacher.benchmarks;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.ReferenceLossKernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/** Soft-target cross entropy, forward + student gradient: our cpu kernel vs softmax/log_softmax + autograd. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
public class SoftTargetCeBenchmark extends MemoryRoofline {
    /** n, k, positions. */
    @Param({"64x10x1", "4096x1000x1", "16x21x4096"})
    public String shape;

    @Param({"1", "4"})
    public float temperature;

    private long[] d;
    private Tensor student;
    private Tensor teacher;
    private long studentAddress;
    private long teacherAddress;
    private FloatPointer loss;
    private FloatPointer grad;
    private LossKernels cpu;

    @Override
    protected long bytesMoved() {
        return 3L * 4 * KernelState.count(KernelState.shape(shape));
    }

    @Setup(Level.Trial)
    public void setUp() {
        d = KernelState.shape(shape);
        student = KernelState.randn(1, d).mul(new org.bytedeco.pytorch.Scalar(3.0));
        teacher = KernelState.randn(2, d).mul(new org.bytedeco.pytorch.Scalar(3.0));
        studentAddress = KernelState.address(student);
        teacherAddress = KernelState.address(teacher);
        loss = new FloatPointer(1);
        grad = new FloatPointer(KernelState.count(d));
        cpu = KernelState.cpu();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        loss.close();
        grad.close();
        student.close();
        teacher.close();
    }

    @Benchmark
    public float fusedRaw() {
        cpu.softTargetCe(studentAddress, teacherAddress, d[0], d[1], d[2], temperature, 1f, loss.address(),
                grad.address(), 0);
        return loss.get(0);
    }

    @Benchmark
    public float fusedTensor() {
        try (PointerScope scope = new PointerScope()) {
            return cpu.softTargetCe(student, teacher, temperature, 1f, true).lossValue();
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
