/**
 * The fused distillation losses on raw addresses, Java arrays and direct buffers: {@link
 * org.dreamteacher.kernels.LossKernels}, its backends ({@code cpu}, {@code cuda}) found by {@link java.util.ServiceLoader}
 * through {@link org.dreamteacher.kernels.Backends}, and the exceptions of the native layer.
 *
 * <p>Module {@code dreamteacher-kernels}. May use: the JDK, JavaCPP and {@link org.dreamteacher.kernels.bindings}.
 * Never libtorch.
 */
package org.dreamteacher.kernels;
