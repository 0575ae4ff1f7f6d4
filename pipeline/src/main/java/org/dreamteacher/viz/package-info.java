/**
 * Pictures and charts: PNG grids of images and masks, features as their principal components in RGB
 * ({@link org.dreamteacher.viz.Pictures}), line and bar charts ({@link org.dreamteacher.viz.Plots}), a run's loss
 * curve from its {@code metrics.jsonl} ({@link org.dreamteacher.viz.Charts}) and a distillation's teacher and
 * student features side by side ({@link org.dreamteacher.viz.FeaturePictures}). Written with
 * {@code javax.imageio} and Java2D, atomically.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson and the pipeline packages
 * {@code data}, {@code diffusion}, {@code nn}, {@code torch} and {@code train}.
 */
package org.dreamteacher.viz;
