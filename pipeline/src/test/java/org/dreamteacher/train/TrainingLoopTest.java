package org.dreamteacher.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shared loop on a 4-element parameter fitted to noisy targets drawn from the per-step seed. */
class TrainingLoopTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        TorchRuntime.init();
        Progress.setEnabled(false);
    }

    /** One parameter vector, its optimiser, and what the loop did with them. */
    private static final class Fit implements AutoCloseable {
        final Tensor w = torch.zeros(4).requires_grad_(true);
        final TensorVector params = new TensorVector(w);
        final SGD optimizer;
        final List<String> events = new ArrayList<>();
        boolean closed;

        Fit() {
            this(0);
        }

        /** With momentum the optimiser has a state of its own, which a resume must restore. */
        Fit(double momentum) {
            SGDOptions o = new SGDOptions(0.1);
            o.momentum().put(momentum);
            optimizer = new SGD(params, o);
        }

        /** Loss (w - (1 + 0.1 noise))^2 summed, the noise drawn from libtorch's generator; NaN at {@code nanAt}. */
        TrainingLoop.Builder loop(long steps, long nanAt) {
            TrainingLoop.StepFunction f = step -> {
                Tensor target = torch.randn(4).mul(new Scalar(0.1)).add(new Scalar(1.0));
                Tensor l = w.sub(target).square().sum();
                return step == nanAt ? l.mul(new Scalar(Double.NaN)) : l;
            };
            return TrainingLoop.builder(optimizer, params, new CosineSchedule(0.25, 0, steps, 1.0), steps, f)
                    .seeds(step -> 1_000 + step)
                    .listener(new TrainingLoop.TrainingListener() {
                        @Override
                        public void onStepEnd(TrainingLoop.StepEnd end) {
                            events.add("end " + end.done());
                        }

                        @Override
                        public void onCheckpoint(long done) {
                            events.add("checkpoint " + done);
                        }

                        @Override
                        public void onFinish(TrainingLoop.Outcome o) {
                            events.add("finish " + o.start() + ".." + o.end());
                        }

                        @Override
                        public void onExit() {
                            events.add("exit");
                        }
                    });
        }

        float[] weights() {
            float[] out = new float[4];
            w.detach().contiguous().data_ptr_float().get(out);
            return out;
        }

        @Override
        public void close() {
            optimizer.close();
            params.close();
            w.close();
        }
    }

    @Test
    void stepsWriteMetricsAndCheckpointsAtTheirCadenceAndCloseWhatTheyOwn() throws Exception {
        MetricsLog log = MetricsLog.open(dir.resolve("metrics.jsonl"), 0);
        try (Fit fit = new Fit()) {
            List<Long> saved = new ArrayList<>();
            TrainingLoop.Outcome o = fit.loop(5, -1)
                    .metrics(log, 2, (record, window) -> record.put("loss", window.meanLoss()).put("n", window.steps()))
                    .checkpoints(new RunCheckpoints(dir, 2), 2, saved::add)
                    .owning(() -> fit.closed = true)
                    .build().run();
            assertEquals(5, o.steps());
            assertTrue(o.lastLoss() < o.firstLoss() / 2, o.firstLoss() + " -> " + o.lastLoss());
            assertEquals(List.of(2L, 4L, 5L), saved);
            assertEquals(List.of("end 1", "end 2", "checkpoint 2", "end 3", "end 4", "checkpoint 4", "end 5", "checkpoint 5",
                    "finish 0..5", "exit"), fit.events);
            assertTrue(fit.closed);
            List<JsonNode> lines = MetricsLog.read(dir.resolve("metrics.jsonl"));
            assertEquals(List.of(2L, 4L, 5L), lines.stream().map(n -> n.get("step").asLong()).toList());
            assertEquals(List.of(2, 2, 1), lines.stream().map(n -> n.get("n").asInt()).toList());
            for (float v : fit.weights()) assertEquals(1.0, v, 0.15);
        }
    }

    @Test
    void aRunStoppedAndResumedEqualsAnUninterruptedOne() throws Exception {
        float[] whole, resumed;
        try (Fit fit = new Fit()) {
            fit.loop(6, -1).build().run();
            whole = fit.weights();
        }
        try (Fit fit = new Fit()) {
            List<Long> saved = new ArrayList<>();
            TrainingLoop.Outcome first = fit.loop(6, -1).stopAfter(3).checkpoints(new RunCheckpoints(dir, 2), 10, saved::add).build().run();
            assertEquals(3, first.end());
            assertEquals(List.of(3L), saved);
            TrainingLoop.Outcome second = fit.loop(6, -1).from(3).build().run();
            assertEquals(3, second.steps());
            resumed = fit.weights();
        }
        assertArrayEquals(whole, resumed);
    }

    @Test
    void aNonFiniteStepIsNotTakenAndEverythingIsStillClosed() throws Exception {
        try (Fit fit = new Fit()) {
            float[] beforeBadStep;
            try (Fit twoSteps = new Fit()) {
                twoSteps.loop(5, -1).stopAfter(2).build().run();
                beforeBadStep = twoSteps.weights();
            }
            TrainingLoop loop = fit.loop(5, 2).nonFinite("test loss", "Do this.").owning(() -> fit.closed = true).build();
            StepGuard.NonFiniteStepException e = assertThrows(StepGuard.NonFiniteStepException.class, loop::run);
            assertEquals(2, e.step());
            assertTrue(e.getMessage().startsWith("step 3: non-finite test loss NaN") && e.getMessage().endsWith("Do this."), e.getMessage());
            assertArrayEquals(beforeBadStep, fit.weights());
            assertTrue(fit.closed);
            assertEquals(List.of("end 1", "end 2", "exit"), fit.events);
            assertFalse(fit.events.contains("finish 0..5"));
            assertThrows(IllegalStateException.class, loop::run);
        }
    }

    @Test
    void aLoopWithoutSeedsIsRefused() {
        try (Fit fit = new Fit()) {
            TrainingLoop.Builder b = TrainingLoop.builder(fit.optimizer, fit.params, new CosineSchedule(0.1, 0, 1, 1.0), 1, step -> fit.w.sum());
            assertThrows(IllegalStateException.class, b::build);
            assertThrows(IllegalArgumentException.class, () -> TrainingLoop.builder(fit.optimizer, fit.params,
                    new CosineSchedule(0.1, 0, 1, 1.0), 0, step -> fit.w.sum()));
        }
    }

    @Test
    void theLoopResumesFromItsCheckpointsWithTheOptimiserState() throws Exception {
        JsonNode run = new ObjectMapper().createObjectNode().put("run", "fit with momentum");
        float[] whole, resumed, withoutState;
        try (Fit fit = new Fit(0.9)) {
            fit.loop(6, -1).build().run();
            whole = fit.weights();
        }
        RunCheckpoints checkpoints = new RunCheckpoints(dir, 2);
        float[] atStop;
        try (Fit fit = new Fit(0.9)) {
            Optional<RunCheckpoints.Snapshot> none = checkpoints.start(false, () -> run);
            assertTrue(none.isEmpty());
            fit.loop(6, -1).stopAfter(3).checkpoints(checkpoints, none, 10, Map.of(), Map.of("sgd", fit.optimizer), done -> run).build().run();
            atStop = fit.weights();
        }
        try (Fit fit = new Fit(0.9)) {
            fit.w.detach().copy_(torch.tensor(atStop));
            Optional<RunCheckpoints.Snapshot> snapshot = checkpoints.start(true, () -> run);
            assertEquals(3, snapshot.orElseThrow().step());
            TrainingLoop.Outcome o = fit.loop(6, -1).checkpoints(checkpoints, snapshot, 10, Map.of(), Map.of("sgd", fit.optimizer), done -> run)
                    .build().run();
            assertEquals(3, o.start());
            resumed = fit.weights();
        }
        assertArrayEquals(whole, resumed);
        // The control: the same weights and steps with a fresh optimiser lose the momentum and end elsewhere.
        try (Fit fit = new Fit(0.9)) {
            fit.w.detach().copy_(torch.tensor(atStop));
            fit.loop(6, -1).from(3).build().run();
            withoutState = fit.weights();
        }
        assertFalse(java.util.Arrays.equals(whole, withoutState), "the momentum must matter for this check to mean anything");
        // Another run in the same folder is refused by name.
        JsonNode other = new ObjectMapper().createObjectNode().put("run", "another");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> checkpoints.start(true, () -> other));
        assertTrue(e.getMessage().contains("run fit with momentum (now another)"), e.getMessage());
    }

    @Test
    void theUpdatesOfAStepRunInOrderEachWithItsOwnOptimiser() throws Exception {
        Tensor a = torch.zeros(1).requires_grad_(true), b = torch.zeros(1).requires_grad_(true);
        try (TensorVector pa = new TensorVector(a); TensorVector pb = new TensorVector(b); SGD oa = new SGD(pa, new SGDOptions(0.5));
                SGD ob = new SGD(pb, new SGDOptions(0.5))) {
            List<String> order = new ArrayList<>();
            // a moves towards 1; b towards a as it is after a's update of the same step.
            TrainingLoop.StepFunction fa = step -> {
                order.add("a" + step);
                return a.sub(new Scalar(1.0)).square().sum();
            };
            TrainingLoop.StepFunction fb = new TrainingLoop.StepFunction() {
                @Override
                public Tensor loss(long step) {
                    order.add("b" + step);
                    return b.sub(a.detach()).square().sum();
                }

                @Override
                public void afterStep(long step) {
                    order.add("after b" + step);
                }
            };
            TrainingLoop.builder(new CosineSchedule(0.5, 0, 2, 1.0), 2, List.of(new TrainingLoop.Update("a loss", oa, pa, fa),
                    new TrainingLoop.Update("b loss", ob, pb, fb))).seeds(step -> step).build().run();
            assertEquals(List.of("a0", "b0", "after b0", "a1", "b1", "after b1"), order);
            // a: 0 -> 1 -> 1 (a step of 0.5 on (a-1)^2 lands on 1); b: 0 -> 1 (a was already 1) -> 1
            assertEquals(1.0, a.item_double(), 1e-6);
            assertEquals(1.0, b.item_double(), 1e-6);

            TrainingLoop.StepFunction bad = step -> b.mul(new Scalar(Double.NaN)).sum();
            StepGuard.NonFiniteStepException e = assertThrows(StepGuard.NonFiniteStepException.class, () -> TrainingLoop.builder(
                    new CosineSchedule(0.5, 0, 1, 1.0), 1, List.of(new TrainingLoop.Update("a loss", oa, pa, fa),
                            new TrainingLoop.Update("b loss", ob, pb, bad))).seeds(step -> step).build().run());
            assertTrue(e.getMessage().contains("non-finite b loss"), e.getMessage());
        }
    }
}
