package org.dreamteacher.djl;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.SimpleCompositeLoss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.WhitenMode;
import org.junit.jupiter.api.Test;

/**
 * A DJL Trainer distils a fixed random teacher feature map into a small convolutional student with whitened MSE +
 * 10 × attention transfer (DreamTeacher's feature loss), and both terms go down.
 */
class TrainerDistillsTest {
    @Test
    void studentLearnsTheTeachersFeatures() {
        SequentialBlock student = new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(16).build())
                .add(Activation::relu)
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(24).build());
        WhitenedMseLoss mse = new WhitenedMseLoss(WhitenMode.PER_SAMPLE);
        AttentionTransferLoss at = new AttentionTransferLoss("at", 2f, AttentionDistance.SQUARED, 1e-12f, 10f);
        SimpleCompositeLoss loss = new SimpleCompositeLoss("feature").addLoss(mse).addLoss(at);

        try (Model model = Model.newInstance("student", Device.cpu(), "PyTorch")) {
            model.setBlock(student);
            DefaultTrainingConfig config = new DefaultTrainingConfig(loss)
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(1e-2f)).build());
            try (Trainer trainer = model.newTrainer(config)) {
                NDManager m = trainer.getManager();
                m.getEngine().setRandomSeed(7);
                NDArray images = m.randomNormal(new Shape(4, 3, 8, 8));
                NDArray teacher = m.randomNormal(new Shape(4, 24, 8, 8)).mul(3).add(1); // fixed random features
                trainer.initialize(images.getShape());

                float[] before = parts(trainer, images, teacher, mse, at);
                float first = Float.NaN, last = Float.NaN;
                for (int step = 0; step < 40; step++) {
                    try (GradientCollector gc = trainer.newGradientCollector()) {
                        NDList prediction = trainer.forward(new NDList(images));
                        NDArray value = loss.evaluate(new NDList(teacher), prediction);
                        gc.backward(value);
                        last = value.getFloat();
                        if (step == 0) first = last;
                    }
                    trainer.step();
                }
                float[] after = parts(trainer, images, teacher, mse, at);
                assertTrue(last < 0.7f * first, "loss " + first + " -> " + last + " after 40 steps");
                assertTrue(after[0] < before[0], "whitened MSE " + before[0] + " -> " + after[0]);
                assertTrue(after[1] < before[1], "attention transfer " + before[1] + " -> " + after[1]);
            }
        }
    }

    /** The two losses of the current student, without gradients. */
    private static float[] parts(Trainer trainer, NDArray images, NDArray teacher, WhitenedMseLoss mse,
            AttentionTransferLoss at) {
        NDList prediction = trainer.evaluate(new NDList(images));
        return new float[] {
            mse.evaluate(new NDList(teacher), prediction).getFloat(),
            at.evaluate(new NDList(teacher), prediction).getFloat()
        };
    }
}
