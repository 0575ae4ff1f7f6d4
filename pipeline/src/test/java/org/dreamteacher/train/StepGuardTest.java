package org.dreamteacher.train;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureRegressorConfig;
import org.dreamteacher.parallel.DataParallel;
import org.dreamteacher.parallel.DistributedContext;
import org.dreamteacher.parallel.DistributedOptions;
import org.dreamteacher.parallel.LocalLauncher;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The finite check before the optimiser step: the loss and the gradient norm, agreed over the ranks. */
class StepGuardTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        TorchRuntime.init();
    }

    /** Two parameters of 3 elements with gradient 2 everywhere; {@code bad} (if not null) replaces one element. */
    private static TensorVector params(Float bad) {
        TensorVector v = new TensorVector();
        for (int i = 0; i < 2; i++) {
            Tensor p = torch.ones(3).requires_grad_(true);
            p.sum().mul(new Scalar(2.0)).backward();
            v.push_back(p);
        }
        if (bad != null) {
            try (NoGradGuard ng = new NoGradGuard()) {
                v.get(1).grad().narrow(0, 1, 1).fill_(new Scalar(bad));
            }
        }
        return v;
    }

    @Test
    void anInfiniteGradientWithAFiniteLossIsRefused() {
        assertEquals(Math.sqrt(6 * 4.0), StepGuard.gradientNorm(params(null)), 1e-12);
        assertDoesNotThrow(() -> StepGuard.check(DataParallel.SINGLE, params(null), 0.5, 0, "loss", null, "advice"));
        for (float bad : new float[] {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN}) {
            StepGuard.NonFiniteStepException e = assertThrows(StepGuard.NonFiniteStepException.class,
                    () -> StepGuard.check(DataParallel.SINGLE, params(bad), 0.5, 6, "loss", () -> "ckpt/step-00000006 (step 6)", "Do this."));
            assertEquals(6, e.step());
            assertTrue(e.getMessage().startsWith("step 7: non-finite loss 0.5, gradient norm"), e.getMessage());
            assertTrue(e.getMessage().contains("the step was not taken") && e.getMessage().contains("(last checkpoint: ckpt/step-00000006 (step 6))")
                    && e.getMessage().endsWith("Do this."), e.getMessage());
        }
        assertThrows(StepGuard.NonFiniteStepException.class, () -> StepGuard.check(DataParallel.SINGLE, params(null), Double.NaN, 0, "loss", null, ""));
        // finite float32 gradients whose squares overflow float32 still have a finite norm
        assertDoesNotThrow(() -> StepGuard.check(DataParallel.SINGLE, params(3e38f), 0.5, 0, "loss", null, ""));
    }

    @Test
    void aNonFiniteStepOnOneRankStopsEveryRank() throws Exception {
        int port = LocalLauncher.freePort();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<String>> ranks = new ArrayList<>();
            for (int rank = 0; rank < 2; rank++) {
                int r = rank;
                ranks.add(pool.submit(() -> {
                    DistributedContext ctx = DistributedContext.join(DistributedOptions.of(2, r, "127.0.0.1", port, Duration.ofSeconds(60)));
                    try {
                        // step 1 finite everywhere, step 2 NaN on rank 1 only
                        StepGuard.check(ctx, params(null), 0.5, 0, "loss", null, "");
                        try {
                            StepGuard.check(ctx, params(r == 1 ? Float.NaN : null), 0.5, 1, "loss", null, "");
                            return "rank " + r + " took step 2";
                        } catch (StepGuard.NonFiniteStepException e) {
                            return e.getMessage();
                        }
                    } finally {
                        ctx.close();
                    }
                }));
            }
            String rank0 = ranks.get(0).get(), rank1 = ranks.get(1).get();
            assertTrue(rank0.startsWith("step 2: a non-finite loss or gradient on another rank (here loss 0.5"), rank0);
            assertTrue(rank1.startsWith("step 2: non-finite loss 0.5, gradient norm NaN"), rank1);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aCheckpointOfNonFiniteWeightsIsRefused() throws Exception {
        ConfiguredModule model = FeatureRegressorConfig.of(new long[] {2}, new long[] {3}, 4).build();
        RunCheckpoints c = new RunCheckpoints(dir, 2);
        c.save(1, Map.of("m", model), Map.of(), new ObjectMapper().createObjectNode());
        Tensor w = model.parameters().get(0);
        try (NoGradGuard ng = new NoGradGuard()) {
            w.view(-1).narrow(0, 0, 1).fill_(new Scalar(Double.POSITIVE_INFINITY));
        }
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> c.save(2, Map.of("m", model), Map.of(), new ObjectMapper().createObjectNode()));
        assertTrue(e.getMessage().contains("NaN or infinite") && e.getMessage().contains("step-00000001"), e.getMessage());
        assertEquals(1, c.latest().orElseThrow().step());
        model.close();
    }
}
