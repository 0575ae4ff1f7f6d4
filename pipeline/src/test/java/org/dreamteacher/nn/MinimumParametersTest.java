package org.dreamteacher.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.bytedeco.pytorch.TensorVector;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.Test;

/**
 * {@link ModelConfig#minimumParameters()} guards checkpoint loading against forged configs, so it must never exceed a
 * real model's parameter count (or valid checkpoints would be refused), and it must be close enough to matter.
 */
class MinimumParametersTest {
    @Test
    void lowerBoundsHoldAndAreTight() {
        TorchRuntime.init();
        List<ModelConfig> configs = List.of(
                ResNetConfig.small(18, 8, 1, 10), ResNetConfig.small(34, 4, 3, 0), ResNetConfig.small(50, 4, 1, 10),
                ResNetConfig.standard(18, 3, 1000),
                ConvNeXtConfig.of(List.of(1, 1, 2, 1), List.of(8, 16, 32, 64), 1, 10, 1), ConvNeXtConfig.tiny(3, 0),
                FeatureRegressorConfig.of(new long[] {8, 16, 32}, new long[] {16, 32, 32}, 16),
                FeatureRegressorConfig.of(new long[] {64, 128, 256, 512}, new long[] {128, 256, 256, 512}),
                InterpreterConfig.of(new long[] {16, 32, 32}, 10),
                new SegmentationHeadConfig(List.of(8L, 16L, 32L, 64L), 32, 11, "sum"),
                new SegmentationHeadConfig(List.of(8L, 16L, 32L, 64L), 32, 11, "concat"),
                UNetConfig.of(1, 28, 8, List.of(1, 2)).withTaps(List.of(0, 2)),
                DiffusionConfig.of(UNetConfig.of(1, 28, 32, List.of(1, 2, 2)).withNumResBlocks(1).withAttention(List.of(7), 4, true)
                        .withTaps(List.of(0, 2, 4))),
                DiffusionConfig.of(UNetConfig.of(3, 32, 16, List.of(1, 2, 2, 2)).withNumResBlocks(2)),
                org.dreamteacher.gan.GanConfig.of(1, 28, 64), org.dreamteacher.gan.GanConfig.of(3, 32, 16).discriminator(),
                org.dreamteacher.gan.GanConfig.of(1, 28, 64).discriminator());
        for (ModelConfig c : configs) {
            long actual = 0;
            try (ConfiguredModule m = c.build()) {
                TensorVector p = m.parameters();
                for (long i = 0; i < p.size(); i++) actual += p.get(i).numel();
            }
            long bound = c.minimumParameters();
            String what = c + ": bound " + bound + ", actual " + actual;
            assertTrue(bound <= actual, what);
            assertTrue(bound >= actual / 4, "the bound is too loose to guard anything: " + what);
        }
    }
}
