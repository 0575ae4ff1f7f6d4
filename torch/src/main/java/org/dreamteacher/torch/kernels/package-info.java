/**
 * The loss kernels on libtorch tensors ({@link org.dreamteacher.torch.kernels.TensorLossKernels}), the
 * {@code reference} backend written with libtorch composite ops, and the glue that hands a kernel's gradient to
 * libtorch autograd ({@link org.dreamteacher.torch.kernels.KernelAutograd}).
 *
 * <p>Module {@code dreamteacher-torch}. May use: the JDK, JavaCPP, libtorch, {@code org.dreamteacher.kernels} and
 * {@code org.dreamteacher.torch}.
 */
package org.dreamteacher.torch.kernels;
