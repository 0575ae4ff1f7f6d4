/**
 * What every training run shares: the learning-rate schedule, run checkpoints with resume, the metrics log and
 * progress bars.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson, the progress-bar library,
 * {@code org.dreamteacher.torch} and {@code org.dreamteacher.nn}.
 */
package org.dreamteacher.train;
