package org.dreamteacher.examples.djl;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.SimpleCompositeLoss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.dreamteacher.djl.AttentionTransferLoss;
import org.dreamteacher.djl.WhitenedMseLoss;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.WhitenMode;

/**
 * Feature distillation in DJL with the DreamTeacher losses: a frozen "teacher" network (random weights, standing in
 * for a trained model) maps images to 32-channel features; a smaller student learns to reproduce them with whitened
 * MSE + 10 × attention transfer, trained by a DJL Trainer on fresh random images at every step.
 */
public final class DistillFeatures {
    private DistillFeatures() {}

    /** The average loss over the first and the last ten steps of a run. */
    public record Result(float firstLoss, float lastLoss) {}

    static Block convNet(int hidden, int out) {
        return new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(hidden).build())
                .add(Activation::relu)
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(out).build());
    }

    /** Distils for {@code steps} steps (at least 20) of batch 8, 3x16x16 images. */
    public static Result distill(int steps, int seed) {
        Shape images = new Shape(8, 3, 16, 16);
        // DreamTeacher's feature loss: whitened MSE + λ_AT · attention transfer, λ_AT = 10.
        SimpleCompositeLoss loss = new SimpleCompositeLoss("distill")
                .addLoss(new WhitenedMseLoss(WhitenMode.PER_SAMPLE))
                .addLoss(new AttentionTransferLoss("at", 2f, AttentionDistance.SQUARED, 1e-12f, 10f));
        try (Model model = Model.newInstance("student", Device.cpu(), "PyTorch");
                NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            manager.getEngine().setRandomSeed(seed);
            Block teacher = convNet(64, 32);
            teacher.initialize(manager, DataType.FLOAT32, images);
            ParameterStore frozen = new ParameterStore(manager, false);

            model.setBlock(convNet(16, 32));
            DefaultTrainingConfig config = new DefaultTrainingConfig(loss)
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(3e-3f)).build());
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(images);
                float first = 0, last = 0;
                for (int step = 0; step < steps; step++) {
                    try (NDManager batch = trainer.getManager().newSubManager()) {
                        NDArray x = batch.randomNormal(images);
                        NDArray target = teacher.forward(frozen, new NDList(x), false).singletonOrThrow();
                        try (GradientCollector gc = trainer.newGradientCollector()) {
                            NDArray value = loss.evaluate(new NDList(target), trainer.forward(new NDList(x)));
                            gc.backward(value);
                            float v = value.getFloat();
                            if (step < 10) first += v / 10;
                            if (step >= steps - 10) last += v / 10;
                        }
                        trainer.step();
                    }
                }
                return new Result(first, last);
            }
        }
    }

    public static void main(String[] args) {
        // DJL never goes to the network: libtorch comes from the pytorch-native-cpu jar.
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        Result r = distill(steps, 1);
        System.out.printf("distillation loss (whitened MSE + 10 x attention transfer): %.4f over the first 10 steps,"
                + " %.4f over the last 10 of %d%n", r.firstLoss(), r.lastLoss(), steps);
    }
}
