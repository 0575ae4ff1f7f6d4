package org.dreamteacher.benchmarks;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What every kernel benchmark holds: the student and teacher tensors with their raw addresses (taken once, so
 * the raw-address benchmark allocates nothing), the same values as Java arrays and as direct buffers, preallocated
 * loss and gradient outputs for each form, and the cpu backend on addresses, arrays and buffers and on tensors;
 * and the run settings they share (inherited by the subclasses).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// Three forks: on the shared build machines one JVM's timing of the same kernel varied by up to a third from
// run to run (and libtorch's by 2x), enough to flip a target; JMH averages over the forks.
@Fork(value = 3, jvmArgsAppend = {"-Xmx2g"})
public abstract class KernelBenchmark extends MemoryRoofline {
    protected Tensor student;
    protected Tensor teacher;
    protected long studentAddress;
    protected long teacherAddress;
    protected FloatPointer loss;
    protected FloatPointer grad;
    protected float[] studentArray;
    protected float[] teacherArray;
    protected float[] gradArray;
    protected FloatBuffer studentBuffer;
    protected FloatBuffer teacherBuffer;
    protected FloatBuffer gradBuffer;
    protected LossKernels cpu;
    protected TensorLossKernels cpuTensors;

    /** Takes ownership of the inputs and allocates the outputs (gradient shaped like the student). */
    protected void allocate(Tensor student, Tensor teacher) {
        this.student = student;
        this.teacher = teacher;
        studentAddress = KernelState.address(student);
        teacherAddress = KernelState.address(teacher);
        loss = new FloatPointer(1);
        grad = new FloatPointer(student.numel());
        studentArray = floats(student);
        teacherArray = floats(teacher);
        gradArray = new float[studentArray.length];
        studentBuffer = direct(studentArray);
        teacherBuffer = direct(teacherArray);
        gradBuffer = direct(gradArray);
        cpu = KernelState.cpu();
        cpuTensors = TensorLossKernels.of(cpu);
    }

    private static float[] floats(Tensor t) {
        float[] a = new float[Math.toIntExact(t.numel())];
        t.data_ptr_float().get(a);
        return a;
    }

    private static FloatBuffer direct(float[] values) {
        FloatBuffer b = ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        b.put(values).flip();
        return b;
    }

    @TearDown(Level.Trial)
    public void release() {
        loss.close();
        grad.close();
        student.close();
        teacher.close();
    }
}
