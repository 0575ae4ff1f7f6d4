package org.dreamteacher.torch.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * The outcome of a fused loss call on tensors: the loss as a 0-dim float32 tensor on the inputs' device and
 * the gradient with respect to the student (already multiplied by {@code gradScale}), or {@code null} when
 * only the forward pass was asked for. Close it (or let the enclosing {@code PointerScope} close it) to free
 * the native memory deterministically.
 */
public final class LossResult implements AutoCloseable {
    private final Tensor loss;
    private final Tensor grad;

    public LossResult(Tensor loss, Tensor grad) {
        this.loss = loss;
        this.grad = grad;
    }

    /** The loss, a 0-dim tensor (on a CUDA device it is ready once the stream is synchronised). */
    public Tensor loss() {
        return loss;
    }

    /** dL/dstudent × gradScale, shaped like the student, or {@code null} for a forward-only call. */
    public Tensor grad() {
        return grad;
    }

    /** The loss as a Java float (synchronises with the device for CUDA tensors). */
    public float lossValue() {
        return loss.item_float();
    }

    @Override
    public void close() {
        loss.close();
        if (grad != null) grad.close();
    }
}
