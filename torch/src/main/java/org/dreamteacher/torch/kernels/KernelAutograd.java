package org.dreamteacher.torch.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * Feeds a fused kernel's gradient into libtorch autograd, so that training code can add our losses to other
 * libtorch losses and call {@code backward()} once.
 */
public final class KernelAutograd {
    private KernelAutograd() {}

    /**
     * A scalar whose value is {@code result.loss()} and whose gradient with respect to {@code student} is
     * {@code result.grad()}: {@code (s·g).sum() − (s·g).sum().detach() + loss}. Compute the kernel with
     * gradScale 1 and scale the returned tensor (λ·attached) like any other loss term; gradients then flow
     * from the student into whatever produced it (regressor, backbone).
     *
     * @param student the tensor the kernel was called on, part of an autograd graph
     * @param result  a result with a gradient (computeGrad = true)
     */
    public static Tensor attach(Tensor student, LossResult result) {
        if (result.grad() == null) {
            throw new IllegalArgumentException("attach needs a result computed with computeGrad = true");
        }
        Tensor surrogate = student.mul(result.grad().detach()).sum();
        return surrogate.sub(surrogate.detach()).add(result.loss().detach().to(surrogate.scalar_type()));
    }
}
