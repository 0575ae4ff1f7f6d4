package org.dreamteacher.djl;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.loss.Loss;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.WhitenMode;
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
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * JMH: each DJL loss of this module (one native kernel call for loss and gradient) against the same formula in
 * DJL's own NDArray operations (the test's {@link Reference}), forward and backward under a GradientCollector, on
 * DJL's PyTorch engine for CPU, at the benchmark shapes of the kernels: whitened MSE per sample (64,256,16,16),
 * attention transfer (32,256,16,16) against a (32,512,16,16) teacher, soft-target cross entropy (4096,1000), τ = 4.
 *
 * <p>In the test tree because the benchmarks module holds JavaCPP's libtorch (through the pipeline), and DJL's
 * libtorch must not share a JVM with it. Run, after {@code mvn -B -q test-compile -pl djl -am}:
 * <pre>
 * java -cp "djl/target/test-classes:djl/target/classes:$(cat djl/target/test-cp.txt)" \
 *     org.dreamteacher.djl.DjlLossBenchmark [JMH options]
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true", "-Xmx2g"})
public class DjlLossBenchmark {
    /** "kernel": this module's loss; "djl": the same formula in DJL operations. */
    @Param({"kernel", "djl"})
    public String impl;

    private NDManager manager;
    private NDArray mseStudent, mseTeacher, atStudent, atTeacher, ceStudent, ceTeacher;
    private Loss mse, at, ce;

    @Setup(Level.Trial)
    public void setUp() {
        Engine engine = Engine.getEngine("PyTorch");
        engine.setRandomSeed(5);
        manager = engine.newBaseManager();
        mseStudent = input(64, 256, 16, 16);
        mseTeacher = manager.randomNormal(new Shape(64, 256, 16, 16));
        atStudent = input(32, 256, 16, 16);
        atTeacher = manager.randomNormal(new Shape(32, 512, 16, 16));
        ceStudent = input(4096, 1000);
        ceTeacher = manager.randomNormal(new Shape(4096, 1000));
        mse = new WhitenedMseLoss(WhitenMode.PER_SAMPLE);
        at = new AttentionTransferLoss(2f, AttentionDistance.SQUARED);
        ce = new SoftTargetCrossEntropyLoss(4f);
    }

    private NDArray input(long... shape) {
        NDArray x = manager.randomNormal(new Shape(shape));
        x.setRequiresGradient(true);
        return x;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
    }

    /** Forward and backward of one loss; consumes the loss and one element of the student's gradient. */
    private void step(NDArray student, NDArray teacher, Loss kernel, BiFunction<NDArray, NDArray, NDArray> formula,
            Blackhole bh) {
        try (NDScope scope = new NDScope();
                GradientCollector gc = manager.getEngine().newGradientCollector()) {
            NDArray loss = "kernel".equals(impl) ? kernel.evaluate(new NDList(teacher), new NDList(student))
                    : formula.apply(student, teacher);
            gc.backward(loss);
            bh.consume(loss.getFloat());
            bh.consume(student.getGradient().getFloat(0, 0, 0, 0));
        }
    }

    @Benchmark
    public void whitenedMse(Blackhole bh) {
        step(mseStudent, mseTeacher, mse, (s, t) -> Reference.whitenedMse(s, t, WhitenMode.PER_SAMPLE, 1e-5f), bh);
    }

    @Benchmark
    public void attentionTransfer(Blackhole bh) {
        step(atStudent, atTeacher, at,
                (s, t) -> Reference.attentionTransfer(s, t, 2f, AttentionDistance.SQUARED, 1e-12f), bh);
    }

    @Benchmark
    public void softTargetCe(Blackhole bh) {
        try (NDScope scope = new NDScope();
                GradientCollector gc = manager.getEngine().newGradientCollector()) {
            NDArray loss = "kernel".equals(impl) ? ce.evaluate(new NDList(ceTeacher), new NDList(ceStudent))
                    : Reference.softTargetCe(ceStudent, ceTeacher, 4f);
            gc.backward(loss);
            bh.consume(loss.getFloat());
            bh.consume(ceStudent.getGradient().getFloat(0, 0));
        }
    }

    /** Runs this class's benchmarks with the annotations' settings, overridden by JMH command-line options. */
    public static void main(String[] args) throws RunnerException, org.openjdk.jmh.runner.options.CommandLineOptionException {
        new Runner(new OptionsBuilder().parent(new CommandLineOptions(args))
                .include(DjlLossBenchmark.class.getName()).build()).run();
    }
}
