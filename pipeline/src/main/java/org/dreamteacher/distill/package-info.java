/**
 * DreamTeacher's distillation: the sources of teacher features (online from a diffusion teacher or a GAN
 * generator, or read from a feature store), the feature regressor's losses on the fused kernels, the
 * distillation loop and label-guided distillation.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson, the kernels
 * ({@code org.dreamteacher.kernels}, {@code org.dreamteacher.torch.kernels}) and the pipeline packages below it
 * ({@code data}, {@code diffusion}, {@code features}, {@code gan}, {@code nn}, {@code parallel}, {@code train},
 * {@code viz}); never {@code eval}.
 */
package org.dreamteacher.distill;
