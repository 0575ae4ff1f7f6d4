/**
 * The DreamTeacher fused distillation losses as Deep Java Library (DJL) losses: {@link
 * org.dreamteacher.djl.WhitenedMseLoss}, {@link org.dreamteacher.djl.AttentionTransferLoss} and {@link
 * org.dreamteacher.djl.SoftTargetCrossEntropyLoss}, each an {@link ai.djl.training.loss.Loss} whose value and
 * gradient come from one call of the project's native kernel ({@code docs/design.md} section 3) instead of a chain
 * of DJL operations.
 *
 * <p>Each loss takes the teacher's tensor as the label and the student's as the prediction, and returns a scalar
 * whose gradient with respect to the prediction, under DJL's {@link ai.djl.training.GradientCollector}, is the
 * kernel's gradient; the teacher gets none. Arrays are float32 and live on the CPU.
 *
 * <p>This package may use DJL's API ({@code ai.djl:api}, any engine) and the kernels' plain-Java API ({@code
 * org.dreamteacher.kernels}, the {@code cpu} backend) and nothing else of the project: never libtorch through
 * JavaCPP ({@code dreamteacher-torch}, {@code org.bytedeco.pytorch}), because DJL's PyTorch engine loads a libtorch
 * of its own and two in one JVM crash it. The module's build enforces this.
 */
package org.dreamteacher.djl;
