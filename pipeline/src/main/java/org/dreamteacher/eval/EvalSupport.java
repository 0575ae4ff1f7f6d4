package org.dreamteacher.eval;

import java.util.List;
import java.util.function.Function;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.train.CosineSchedule;
import org.dreamteacher.train.TrainingLoop;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.ConfiguredModule;

/** Helpers shared by the trainers of this package. */
final class EvalSupport {
    private EvalSupport() {}

    static Backbone backbone(ConfiguredModule m) {
        if (m == null) throw new IllegalArgumentException("backbone is null");
        if (!(m instanceof Backbone b)) throw new IllegalArgumentException("a " + m.config().kind() + " model is not a backbone");
        return b;
    }

    static TensorVector vector(List<Tensor> tensors) {
        TensorVector v = new TensorVector();
        for (Tensor t : tensors) v.push_back(t);
        return v;
    }

    /** Mean of the last {@code k} finite entries of a ring of recent losses. */
    static double tailMean(double[] ring, long filled) {
        int n = (int) Math.min(filled, ring.length);
        if (n == 0) return Double.NaN;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += ring[i];
        return sum / n;
    }

    /**
     * The loop of a supervised training on a batch stream: cross entropy of {@code logits} of each step's batch
     * against its labels, the fine-tuning's per-step seeds, AdamW with {@code weightDecay} at the rates of a cosine
     * schedule with {@code warmupFraction} of the steps warming up; the last losses go into {@code recent} (a
     * ring), and {@code onExit} puts the models back as they were, however the loop ends. It owns its optimiser.
     */
    static TrainingLoop.Builder crossEntropyLoop(TensorVector params, double lr, double weightDecay, double warmupFraction, long steps,
            Batches batches, Function<Batches.Batch, Tensor> logits, long seed, String task, double[] recent, Runnable onExit) {
        AdamWOptions options = new AdamWOptions(lr);
        options.weight_decay().put(weightDecay);
        AdamW optimizer = new AdamW(params, options);
        CosineSchedule schedule = new CosineSchedule(lr, Math.round(warmupFraction * steps), steps, 0.01);
        int perEpoch = batches.stepsPerEpoch();
        return TrainingLoop.builder(optimizer, params, schedule, steps, step -> {
                    Batches.Batch batch = batches.batch((int) (step / perEpoch), (int) (step % perEpoch));
                    return torch.cross_entropy(logits.apply(batch), batch.labels());
                })
                .seeds(step -> SeededRandom.mix(seed, SeedStreams.TRAINING_STEP, step))
                .nonFinite("training loss", "Lower the learning rate of " + task + " and run again.")
                .progress(task)
                .listener(new TrainingLoop.TrainingListener() {
                    @Override
                    public void onStepEnd(TrainingLoop.StepEnd end) {
                        recent[(int) (end.step() % recent.length)] = end.loss();
                    }

                    @Override
                    public void onExit() {
                        onExit.run();
                    }
                })
                .owning(params, optimizer);
    }

    static void checkSettings(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }
}
