package org.dreamteacher.benchmarks;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.kernels.bindings.DreamTeacherNative;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of crossing into native code: a trivial native call and each kernel on one element, vs a Java call; and
 * the same one-element whitened MSE through the {@code float[]} form (length checks, pinning, the loss array) and
 * the direct-buffer form (checks, address lookups), whose difference from the raw-address call is their cost per
 * call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class JniOverheadBenchmark {
    private FloatPointer s;
    private FloatPointer t;
    private FloatPointer loss;
    private FloatPointer grad;
    private long sa;
    private long ta;
    private long la;
    private long ga;
    private LossKernels cpu;
    private int x = 7;
    private final float[] sArray = {0.5f};
    private final float[] tArray = {-1.5f};
    private final float[] gArray = new float[1];
    private FloatBuffer sBuffer;
    private FloatBuffer tBuffer;
    private FloatBuffer gBuffer;

    @Setup(Level.Trial)
    public void setUp() {
        s = KernelState.noise(1, 1);
        t = KernelState.noise(2, 1);
        loss = new FloatPointer(1);
        grad = new FloatPointer(1);
        sa = s.address();
        ta = t.address();
        la = loss.address();
        ga = grad.address();
        cpu = KernelState.cpu();
        sBuffer = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).asFloatBuffer().put(0, 0.5f);
        tBuffer = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).asFloatBuffer().put(0, -1.5f);
        gBuffer = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        s.close();
        t.close();
        loss.close();
        grad.close();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private static int plainJava(int v) {
        return v + 1;
    }

    /** The baseline: a Java call the JIT may not inline. */
    @Benchmark
    public int javaCall() {
        return plainJava(x);
    }

    /** dt_num_threads(): a native call that does almost nothing. */
    @Benchmark
    public int nativeTrivialCall() {
        return DreamTeacherNative.dt_num_threads();
    }

    @Benchmark
    public float whitenedMseOneElement() {
        cpu.whitenedMse(sa, ta, 1, 1, 1, 1, WhitenMode.PER_SAMPLE, 1e-5f, 1f, la, ga, 0);
        return loss.get(0);
    }

    @Benchmark
    public float whitenedMseOneElementArray() {
        return cpu.whitenedMse(sArray, tArray, 1, 1, 1, 1, WhitenMode.PER_SAMPLE, 1e-5f, 1f, gArray);
    }

    @Benchmark
    public float whitenedMseOneElementBuffer() {
        return cpu.whitenedMse(sBuffer, tBuffer, 1, 1, 1, 1, WhitenMode.PER_SAMPLE, 1e-5f, 1f, gBuffer);
    }

    @Benchmark
    public float attentionTransferOneElement() {
        cpu.attentionTransfer(sa, 1, ta, 1, 1, 1, 1, 2f, AttentionDistance.SQUARED, 1e-12f, 1f, la, ga, 0);
        return loss.get(0);
    }

    @Benchmark
    public float softTargetCeOneElement() {
        cpu.softTargetCe(sa, ta, 1, 1, 1, 1f, 1f, la, ga, 0);
        return loss.get(0);
    }
}
