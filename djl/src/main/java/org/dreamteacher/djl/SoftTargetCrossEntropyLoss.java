package org.dreamteacher.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;

/**
 * Cross entropy between temperature-softened distributions (DreamTeacher's label-guided distillation, Hinton's
 * knowledge distillation): H(softmax(t/τ), softmax(s/τ)) = −Σ_k softmax(t/τ)_k · log_softmax(s/τ)_k, averaged over
 * the samples and positions, times {@code scale} ({@code docs/design.md} section 3.3). The τ² factor of
 * Hinton-style distillation is not included: pass it as the scale.
 *
 * <p>{@link #evaluate(NDList, NDList)} takes the teacher's logits as the label and the student's as the
 * prediction, float32 on the CPU, both (N,K) or both (N,K,d1,...) with the classes on axis 1 (as for
 * segmentation). Loss and gradient come from one call of the native kernel, safe for logits of any magnitude;
 * memory is handled as in {@link WhitenedMseLoss}.
 */
public class SoftTargetCrossEntropyLoss extends Loss {
    private final float tau;
    private final float scale;

    /** τ = 1, scale 1, named "SoftTargetCrossEntropyLoss". */
    public SoftTargetCrossEntropyLoss() {
        this(1f);
    }

    /** The given temperature, scale 1, named "SoftTargetCrossEntropyLoss". */
    public SoftTargetCrossEntropyLoss(float tau) {
        this("SoftTargetCrossEntropyLoss", tau, 1f);
    }

    /**
     * @param name the loss's name (DJL reports losses by it)
     * @param tau the temperature τ, finite and &gt; 0
     * @param scale the factor of the loss and its gradient (a weight λ, or τ² for Hinton's scaling), finite
     */
    public SoftTargetCrossEntropyLoss(String name, float tau, float scale) {
        super(name);
        this.tau = KernelCall.positive("tau", tau);
        this.scale = KernelCall.finite("scale", scale);
    }

    public float tau() {
        return tau;
    }

    public float scale() {
        return scale;
    }

    /**
     * @param labels the teacher's logits, one float32 (N,K) or (N,K,d1,...) array
     * @param predictions the student's logits, one float32 array of the same shape
     * @return the scalar loss, whose gradient with respect to the prediction is the kernel's
     * @throws IllegalArgumentException if the lists do not hold one array each, or for another dtype or shape
     */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        String op = getName();
        NDArray[] st = KernelCall.studentAndTeacher(op, labels, predictions);
        NDArray student = st[0], teacher = st[1];
        Shape shape = student.getShape();
        if (shape.dimension() < 2) {
            throw new IllegalArgumentException(op + ": the logits must be (N,K) or (N,K,d1,...), got shape " + shape);
        }
        if (!shape.equals(teacher.getShape())) {
            throw new IllegalArgumentException(op + ": the student logits " + shape + " and the teacher logits "
                    + teacher.getShape() + " must have the same shape");
        }
        int n = KernelCall.dim(shape, 0), k = KernelCall.dim(shape, 1);
        int positions = Math.toIntExact(shape.size() / ((long) n * k));
        return KernelCall.evaluate(op, student, teacher, scale,
                (s, t, g, kernels) -> kernels.softTargetCe(s, t, n, k, positions, tau, scale, g));
    }
}
