/**
 * Feature stores: a teacher's multi-scale features of a whole dataset, written once in checksummed chunks with
 * a manifest ({@link org.dreamteacher.features.FeatureStore}), from real images (encoded), samples of a diffusion
 * teacher (synthetic) or a GAN generator's images with the features it computed (generated), and read back
 * memory-mapped. Distillation reads them through {@code distill.StoredFeatures}.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson and the pipeline packages
 * {@code data}, {@code diffusion}, {@code gan}, {@code nn}, {@code torch} and {@code train}; never {@code distill}
 * or {@code eval}.
 */
package org.dreamteacher.features;
