/**
 * DreamTeacher's distillation: feature datasets (encoded online or stored on disk), the feature regressor's
 * losses on the fused kernels, the distillation loop, label-guided distillation, and the teacher's training.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, Jackson, the kernels
 * ({@code org.dreamteacher.kernels}, {@code org.dreamteacher.torch.kernels}) and the other pipeline packages.
 */
package org.dreamteacher.distill;
