package org.dreamteacher.benchmarks;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.TorchRuntime;
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

/**
 * One training step (forward, backward, AdamW) of the diffusion U-Net (DDPM loss) and of ResNet-18 (cross
 * entropy), batch 64 of 3x32x32, the models of {@code benchmarks/models/pytorch_eager.py}, which times the same
 * step in PyTorch eager; {@code benchmarks/models/run.sh} runs both and reports the ratio. A step takes
 * seconds, so each measurement is one step (single-shot) after warm-up steps.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
public class ModelTrainingBenchmark {
    /** The U-Net: base 32, multipliers 1,2,2, one residual block per level, attention at 8x8 and in the middle. */
    public static UNetConfig unetConfig() {
        return UNetConfig.of(3, 32, 32, List.of(1, 2, 2)).withNumResBlocks(1).withAttention(List.of(8), 4, true);
    }

    @Param({"unet", "resnet18"})
    public String model;

    @Param({"2"})
    public int threads;

    private GaussianDiffusion diffusion;
    private ResNet resnet;
    private AdamW optimizer;
    private Tensor images;
    private Tensor labels;
    private Noise noise;

    @Setup(Level.Trial)
    public void setUp() {
        TorchRuntime.init();
        torch.set_num_threads(threads);
        torch.manual_seed(0);
        noise = new Noise(0);
        images = noise.normal(64, 3, 32, 32).retainReference();
        labels = noise.uniformInts(64, 10).retainReference();
        if (model.equals("unet")) {
            diffusion = DiffusionConfig.of(unetConfig()).build();
            optimizer = new AdamW(diffusion.parameters(), new AdamWOptions(2e-4));
        } else {
            resnet = (ResNet) ResNetConfig.small(18, 64, 3, 10).build();
            optimizer = new AdamW(resnet.parameters(), new AdamWOptions(1e-3));
        }
    }

    @Benchmark
    public void trainingStep(Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            Tensor loss = diffusion != null ? diffusion.trainingLoss(images, noise)
                    : torch.cross_entropy(resnet.classify(images), labels);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            bh.consume(loss.item_float());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        optimizer.close();
        if (diffusion != null) diffusion.close();
        if (resnet != null) resnet.close();
    }
}
