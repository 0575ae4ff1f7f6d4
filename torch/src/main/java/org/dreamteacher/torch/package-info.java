/**
 * libtorch (JavaCPP's PyTorch preset) made safe to load ({@link org.dreamteacher.torch.TorchRuntime}), checks
 * that its float32 convolutions are right on this processor, and the {@code .dtt} tensor container.
 *
 * <p>Module {@code dreamteacher-torch}. May use: the JDK, JavaCPP, libtorch, Jackson and
 * {@code org.dreamteacher.kernels}.
 */
package org.dreamteacher.torch;
