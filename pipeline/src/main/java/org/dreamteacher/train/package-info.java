/**
 * What every training run shares: the learning-rate schedule, run checkpoints with resume, the metrics log and
 * progress bars.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson, the progress-bar library,
 * {@code org.dreamteacher.torch}, {@code org.dreamteacher.nn} and {@code org.dreamteacher.parallel} (the step guard
 * agrees on the step with the other processes).
 */
package org.dreamteacher.train;
