package org.dreamteacher.nn;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A child module that is a Java subclass of {@code Module} and is referenced only from C++ (registered, but
 * held by no Java field) gets garbage-collected; libtorch's recursive train()/eval() then calls back into the
 * collected Java object and fails with a NullPointerException. Every model must keep such children reachable.
 */
class ModuleReachabilityTest {
    static {
        NnTests.init();
    }

    @Test
    void trainAndEvalWorkAfterGarbageCollection() throws InterruptedException {
        List<ConfiguredModule> models = List.of(
                ResNetConfig.small(18, 4, 1, 3).build(),
                new ConvNeXtConfig(List.of(1, 1, 1, 1), List.of(8, 16, 32, 64), 1, 3, 1, 0.0, 1e-6).build(),
                FeatureRegressorConfig.of(new long[] {8, 16, 32, 64}, new long[] {8, 8, 8, 8}, 8).build(),
                InterpreterConfig.of(new long[] {8, 16}, 3).build(),
                new SegmentationHeadConfig(List.of(8L, 16L), 8, 3, "sum").build(),
                new org.dreamteacher.gan.GanConfig(1, 28, 8, 8, 2, List.of(8, 8, 8, 8)).build(),
                new org.dreamteacher.gan.GanConfig(1, 28, 8, 8, 2, List.of(8, 8, 8, 8)).discriminator().build());
        try {
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(50);
            }
            for (ConfiguredModule m : models) {
                String kind = m.config().kind();
                assertDoesNotThrow(() -> m.train(true), kind + ".train(true)");
                assertTrue(m.is_training(), kind);
                assertDoesNotThrow(m::eval, kind + ".eval()");
                assertFalse(m.is_training(), kind);
            }
        } finally {
            for (ConfiguredModule m : models) m.close();
        }
    }
}
