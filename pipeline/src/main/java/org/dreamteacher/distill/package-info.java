/**
 * DreamTeacher's distillation: feature datasets (encoded online or stored on disk), the feature regressor's
 * losses on the fused kernels, the distillation loop, label-guided distillation, and the teacher's training.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson, the kernels
 * ({@code org.dreamteacher.kernels}, {@code org.dreamteacher.torch.kernels}) and the pipeline packages below it
 * ({@code data}, {@code nn}, {@code diffusion}, {@code train}, {@code parallel}); never {@code eval}.
 */
package org.dreamteacher.distill;
