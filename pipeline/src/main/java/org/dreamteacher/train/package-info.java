/**
 * What every training run shares: the one training loop ({@link org.dreamteacher.train.TrainingLoop}), which owns
 * the sequence of a step (scope, seeding, and per update backward, data-parallel reduce, finite check, clipping,
 * schedule, optimiser step), the metrics, progress, checkpoints with resume and the closing of what it was given; and what it
 * uses: the learning-rate schedule, the step guard, run checkpoints with resume, the metrics log and progress
 * bars. A task supplies its forward pass and loss as a {@link org.dreamteacher.train.TrainingLoop.StepFunction}
 * and reacts to the steps through {@link org.dreamteacher.train.TrainingLoop.TrainingListener}s.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson, the progress-bar library,
 * {@code org.dreamteacher.torch}, {@code org.dreamteacher.nn} and {@code org.dreamteacher.parallel} (the step guard
 * agrees on the step with the other processes).
 */
package org.dreamteacher.train;
