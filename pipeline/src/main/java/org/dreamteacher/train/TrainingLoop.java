package org.dreamteacher.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.LongFunction;
import java.util.function.LongUnaryOperator;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.parallel.DataParallel;

/**
 * The one training loop: it owns the sequence of a step, and a task supplies only what is its own, the forward
 * pass and loss ({@link StepFunction}) and what it does around the steps ({@link TrainingListener}s, the
 * metrics record, the checkpoint contents).
 *
 * <p>Every step runs in its own {@link PointerScope}, so the step's tensors are freed when it ends. libtorch's
 * generator is first seeded with {@code seeds(step)}, so a resumed run draws what an uninterrupted one draws;
 * then each {@link Update} of the step (one for most tasks; a GAN has the discriminator's, then the generator's)
 * runs in this order:
 * <ol>
 *   <li>{@link StepFunction#loss} (data, forward, loss);</li>
 *   <li>{@code zero_grad}, backward, the data-parallel gradient all-reduce;</li>
 *   <li>the finite check of {@link StepGuard} (loss and gradient norm, agreed by every rank), before anything
 *       changes the weights or the optimiser state;</li>
 *   <li>gradient clipping (when a norm is set), the learning rate of the step, the optimiser step, the
 *       data-parallel after-step hook, then {@link StepFunction#afterStep} (an EMA, a metric of this step's
 *       tensors).</li>
 * </ol>
 * After the scope: the listeners' {@link TrainingListener#onStepEnd}, the metrics line (every {@code every}
 * steps and at the last), the progress bar, a checkpoint (every {@code every} steps, at the last and at
 * {@code stopAfter}, by the rank that writes files), and the listeners' {@link TrainingListener#onStepRecorded}.
 * With {@link Builder#checkpoints(RunCheckpoints, Optional, long, Map, Map, LongFunction)} the loop also resumes: it
 * starts at the snapshot's step and loads the optimisers' states from it. Whatever the loop was given to own is
 * closed in a {@code finally}, in the reverse order of {@link Builder#owning}, after the listeners'
 * {@link TrainingListener#onExit}.
 *
 * <p>A loop object runs once.
 */
public final class TrainingLoop {
    /** A task's step: what the loop does not know. */
    @FunctionalInterface
    public interface StepFunction {
        /**
         * Forward pass and loss of step {@code step} (0-based), inside the step's scope after seeding. Returns
         * the scalar loss to minimise.
         */
        Tensor loss(long step);

        /** Called inside the step's scope after the optimiser step, e.g. for an EMA or a metric of this step's tensors. */
        default void afterStep(long step) {}
    }

    /**
     * One optimiser's update within a step: the loss {@code step} gives, minimised by {@code optimizer} over
     * {@code params}; {@code what} names the loss in the message of a refused step ("generator loss").
     */
    public record Update(String what, Optimizer optimizer, TensorVector params, StepFunction step) {
        public Update {
            Objects.requireNonNull(what, "what");
            Objects.requireNonNull(optimizer, "optimizer");
            Objects.requireNonNull(params, "params");
            Objects.requireNonNull(step, "step function");
        }
    }

    /** What happened at the end of a step (the loss of its last update). */
    public record StepEnd(long step, double loss, double lr) {
        /** Steps completed, the key of metrics lines and checkpoints. */
        public long done() {
            return step + 1;
        }
    }

    /** The losses of the steps since the last metrics line, and the step that writes it. */
    public record Window(StepEnd last, double meanLoss, int steps) {}

    /**
     * What a finished loop did: it ran from step {@code start} to {@code end}, the smaller of the total steps and
     * {@code stopAfter} (no step when {@code start} is already there), with these first and last losses (NaN when
     * it took no step).
     */
    public record Outcome(long start, long end, double firstLoss, double lastLoss) {
        /** The steps this loop took. */
        public long steps() {
            return Math.max(0, end - start);
        }
    }

    /** Hooks around the steps; every method does nothing by default. */
    public interface TrainingListener {
        /** After each step, outside its scope, before the metrics line, progress and checkpoint of that step. */
        default void onStepEnd(StepEnd end) throws IOException {}

        /** After the checkpoint of {@code done} completed steps was written. */
        default void onCheckpoint(long done) throws IOException {}

        /** After each step's metrics line, progress and checkpoint: pictures drawn from the log, say. */
        default void onStepRecorded(StepEnd end) throws IOException {}

        /** After the last step of a loop that was not stopped by an exception. */
        default void onFinish(Outcome outcome) throws IOException {}

        /** Once when the loop ends, normally or by an exception, before what the loop owns is closed. */
        default void onExit() {}
    }

    /** Fills the metrics line of a window with the task's own values. */
    @FunctionalInterface
    public interface MetricsRecord {
        void fill(ObjectNode record, Window window);
    }

    /** Writes the checkpoint of {@code done} completed steps. */
    @FunctionalInterface
    public interface Checkpoint {
        void save(long done) throws IOException;
    }

    private final Builder b;
    private boolean ran;

    private TrainingLoop(Builder b) {
        this.b = b;
    }

    /**
     * A loop of {@code steps} steps (0-based step numbers {@code 0..steps-1}) that trains {@code params} with
     * {@code optimizer}, rates from {@code schedule}, the loss from {@code step}.
     */
    public static Builder builder(Optimizer optimizer, TensorVector params, CosineSchedule schedule, long steps, StepFunction step) {
        Objects.requireNonNull(optimizer, "optimizer");
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(step, "step function");
        return new Builder(schedule, steps, List.of(), optimizer, params, step);
    }

    /**
     * A loop of {@code steps} steps whose every step makes {@code updates} in order, each with its own optimiser
     * and loss, all at the rates of {@code schedule}.
     */
    public static Builder builder(CosineSchedule schedule, long steps, List<Update> updates) {
        if (updates.isEmpty()) throw new IllegalArgumentException("a step needs at least one update");
        return new Builder(schedule, steps, List.copyOf(updates), null, null, null);
    }

    /** The settings of a loop; {@link #build} makes it. */
    public static final class Builder {
        private final List<Update> updates;
        // the single update of builder(optimizer, params, ...), named by nonFinite()
        private final Optimizer optimizer;
        private final TensorVector params;
        private final StepFunction step;
        private final CosineSchedule schedule;
        private final long steps;
        private LongUnaryOperator seeds;
        private DataParallel parallel = DataParallel.SINGLE;
        private List<? extends Module> replicated = List.of();
        private double clipNorm;
        private long start;
        private long stopAfter = Long.MAX_VALUE;
        private String what = "loss";
        private Supplier<String> lastSaved;
        private String advice = "Lower the learning rate and run again.";
        private String progressName = "train";
        private Function<StepEnd, String> progressText = e -> String.format("loss %.4f", e.loss());
        private MetricsLog metrics;
        private long metricsEvery;
        private MetricsRecord metricsRecord;
        private Checkpoint checkpoint;
        private long checkpointEvery;
        private final List<TrainingListener> listeners = new ArrayList<>();
        private final List<AutoCloseable> owned = new ArrayList<>();
        private Optional<RunCheckpoints.Snapshot> resumed = Optional.empty();
        private Map<String, Optimizer> resumedOptimizers = Map.of();

        private Builder(CosineSchedule schedule, long steps, List<Update> updates, Optimizer optimizer, TensorVector params, StepFunction step) {
            this.schedule = Objects.requireNonNull(schedule, "schedule");
            if (steps <= 0) throw new IllegalArgumentException("steps must be > 0, got " + steps);
            this.steps = steps;
            this.updates = updates;
            this.optimizer = optimizer;
            this.params = params;
            this.step = step;
        }

        /** The seed of libtorch's generator at the start of each step (required: a run is a function of its seed). */
        public Builder seeds(LongUnaryOperator seedOfStep) {
            this.seeds = Objects.requireNonNull(seedOfStep);
            return this;
        }

        /** This process is one rank of {@code p}; {@code models} are the modules its after-step hook keeps in line. */
        public Builder parallel(DataParallel p, List<? extends Module> models) {
            this.parallel = Objects.requireNonNull(p);
            this.replicated = List.copyOf(models);
            return this;
        }

        /** Clips the gradient norm to {@code norm} before each optimiser step; 0 does not clip. */
        public Builder clipNorm(double norm) {
            if (!(norm >= 0)) throw new IllegalArgumentException("clip norm must be >= 0, got " + norm);
            this.clipNorm = norm;
            return this;
        }

        /** Starts at step {@code first} (the steps a resumed checkpoint had completed). */
        public Builder from(long first) {
            if (first < 0) throw new IllegalArgumentException("start step must be >= 0, got " + first);
            this.start = first;
            return this;
        }

        /** Stops after {@code step} completed steps, with a checkpoint there. */
        public Builder stopAfter(long step) {
            this.stopAfter = step;
            return this;
        }

        /**
         * The words of a refused step's message: what is trained ("loss", "interpreter loss"; with several updates
         * each names its own) and what to do.
         */
        public Builder nonFinite(String whatIsTrained, String whatToDo) {
            this.what = Objects.requireNonNull(whatIsTrained);
            this.advice = Objects.requireNonNull(whatToDo);
            return this;
        }

        /** The progress bar's name. */
        public Builder progress(String name) {
            this.progressName = Objects.requireNonNull(name);
            return this;
        }

        /** The progress bar's name and the text it shows after each step (default: the step's loss). */
        public Builder progress(String name, Function<StepEnd, String> text) {
            this.progressText = Objects.requireNonNull(text);
            return progress(name);
        }

        /**
         * Writes a line to {@code log} every {@code every} completed steps and after the last, filled by
         * {@code record}; the loop owns the log and closes it.
         */
        public Builder metrics(MetricsLog log, long every, MetricsRecord record) {
            if (every <= 0) throw new IllegalArgumentException("metrics interval must be > 0, got " + every);
            this.metrics = Objects.requireNonNull(log);
            this.metricsEvery = every;
            this.metricsRecord = Objects.requireNonNull(record);
            return this;
        }

        /**
         * Saves through {@code save} every {@code every} completed steps, after the last and at {@code stopAfter},
         * on the rank that writes files; a refused step names the newest of {@code checkpoints} and gives their advice.
         */
        public Builder checkpoints(RunCheckpoints checkpoints, long every, Checkpoint save) {
            if (every <= 0) throw new IllegalArgumentException("checkpoint interval must be > 0, got " + every);
            this.checkpoint = Objects.requireNonNull(save);
            this.checkpointEvery = every;
            this.lastSaved = checkpoints::describeLatest;
            this.advice = checkpoints.nonFiniteAdvice();
            return this;
        }

        /**
         * The run's checkpoints, owned by the loop: every {@code every} completed steps, after the last and at
         * {@code stopAfter}, on the rank that writes files, {@code models} and {@code optimizers} are saved by name
         * with {@code state} (the run's description, read at each save). With a {@code resumed} snapshot (from
         * {@link RunCheckpoints#start(boolean, Supplier)}, which has checked it is the same run) the loop starts at
         * its step and loads each optimiser's state from it before the first step.
         */
        public Builder checkpoints(RunCheckpoints checkpoints, Optional<RunCheckpoints.Snapshot> resumed, long every,
                Map<String, ? extends ConfiguredModule> models, Map<String, ? extends Optimizer> optimizers, LongFunction<JsonNode> state) {
            Map<String, ConfiguredModule> m = new LinkedHashMap<>(models);
            Map<String, Optimizer> o = new LinkedHashMap<>(optimizers);
            this.resumed = Objects.requireNonNull(resumed);
            this.resumedOptimizers = o;
            resumed.ifPresent(s -> from(s.step()));
            return checkpoints(checkpoints, every, done -> checkpoints.save(done, m, o, state.apply(done)));
        }

        public Builder listener(TrainingListener l) {
            listeners.add(Objects.requireNonNull(l));
            return this;
        }

        /** Resources the loop closes when it ends, in the reverse order of these calls. */
        public Builder owning(AutoCloseable... resources) {
            for (AutoCloseable r : resources) owned.add(Objects.requireNonNull(r));
            return this;
        }

        public TrainingLoop build() {
            if (seeds == null) throw new IllegalStateException("a training loop needs its per-step seeds");
            return new TrainingLoop(this);
        }

        private List<Update> updates() {
            return updates.isEmpty() ? List.of(new Update(what, optimizer, params, step)) : updates;
        }
    }

    /** Runs the steps; closes what it owns whatever happens. */
    public Outcome run() throws IOException {
        if (ran) throw new IllegalStateException("a training loop runs once");
        ran = true;
        Throwable failure = null;
        try {
            return steps();
        } catch (Throwable t) {
            failure = t;
            throw t;
        } finally {
            close(failure);
        }
    }

    private Outcome steps() throws IOException {
        if (b.resumed.isPresent())
            for (Map.Entry<String, Optimizer> e : b.resumedOptimizers.entrySet()) b.resumed.get().loadOptimizer(e.getKey(), e.getValue());
        List<Update> updates = b.updates();
        long end = Math.min(b.steps, b.stopAfter);
        double first = Double.NaN, last = Double.NaN;
        double window = 0;
        int inWindow = 0;
        try (Progress bar = Progress.start(b.progressName, b.steps, b.start, "step")) {
            for (long step = b.start; step < end; step++) {
                double loss = Double.NaN;
                try (PointerScope scope = new PointerScope()) {
                    torch.manual_seed(b.seeds.applyAsLong(step));
                    for (Update u : updates) {
                        Tensor l = u.step().loss(step);
                        u.optimizer().zero_grad();
                        l.backward();
                        b.parallel.reduceGradients(u.params());
                        loss = l.item_double();
                        StepGuard.check(b.parallel, u.params(), loss, step, u.what(), b.lastSaved, b.advice);
                        if (b.clipNorm > 0) torch.clip_grad_norm_(u.params(), b.clipNorm);
                        b.schedule.apply(u.optimizer(), step);
                        u.optimizer().step();
                        b.parallel.afterStep(b.replicated);
                        u.step().afterStep(step);
                    }
                }
                if (Double.isNaN(first)) first = loss;
                last = loss;
                StepEnd stepEnd = new StepEnd(step, loss, b.schedule.at(step));
                for (TrainingListener l : b.listeners) l.onStepEnd(stepEnd);
                long done = stepEnd.done();
                if (b.metrics != null) {
                    window += loss;
                    inWindow++;
                    if (done % b.metricsEvery == 0 || done == b.steps) {
                        ObjectNode record = b.metrics.record(done);
                        b.metricsRecord.fill(record, new Window(stepEnd, window / inWindow, inWindow));
                        b.metrics.write(record);
                        window = 0;
                        inWindow = 0;
                    }
                }
                bar.step(b.progressText.apply(stepEnd));
                if (b.checkpoint != null && b.parallel.writesFiles()
                        && (done % b.checkpointEvery == 0 || done == b.steps || done == b.stopAfter)) {
                    b.checkpoint.save(done);
                    for (TrainingListener l : b.listeners) l.onCheckpoint(done);
                }
                for (TrainingListener l : b.listeners) l.onStepRecorded(stepEnd);
            }
        }
        Outcome outcome = new Outcome(b.start, end, first, last);
        for (TrainingListener l : b.listeners) l.onFinish(outcome);
        return outcome;
    }

    private void close(Throwable failure) throws IOException {
        List<Throwable> errors = new ArrayList<>();
        for (TrainingListener l : b.listeners) {
            try {
                l.onExit();
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
        if (b.metrics != null) {
            try {
                b.metrics.close();
            } catch (IOException | RuntimeException e) {
                errors.add(e);
            }
        }
        for (int i = b.owned.size() - 1; i >= 0; i--) {
            try {
                b.owned.get(i).close();
            } catch (Exception e) {
                errors.add(e);
            }
        }
        if (errors.isEmpty()) return;
        if (failure != null) {
            for (Throwable e : errors) failure.addSuppressed(e);
            return;
        }
        Throwable firstError = errors.get(0);
        for (Throwable e : errors.subList(1, errors.size())) firstError.addSuppressed(e);
        if (firstError instanceof IOException io) throw io;
        if (firstError instanceof RuntimeException re) throw re;
        throw new IOException("closing after training failed: " + firstError, firstError);
    }
}
