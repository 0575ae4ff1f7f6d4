package org.dreamteacher.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import org.dreamteacher.kernels.LossKernels;
import org.dreamteacher.kernels.WhitenMode;

/**
 * Whitened MSE between a student's features and a teacher's (DreamTeacher's feature regression loss): the teacher
 * is normalised by a LayerNorm without affine parameters, W(t) = (t − μ)/sqrt(σ² + eps), and the loss is
 * mean((s − W(t))²), times {@code scale} ({@code docs/design.md} section 3.1).
 *
 * <p>{@link #evaluate(NDList, NDList)} takes the teacher's features as the label and the student's as the
 * prediction, both float32 (N,C,H,W) of one shape on the CPU; {@link WhitenMode#PER_SAMPLE} normalises each
 * sample over (C,H,W), {@link WhitenMode#PER_PIXEL} over C at each position. Loss and gradient come from one call
 * of the native kernel; the gradient reaches DJL's autograd through the returned scalar (the teacher gets none).
 * Inputs are read in place where the engine gives a direct view of them (DJL's PyTorch engine does for contiguous
 * arrays), otherwise copied once; the gradient is written in place into a new array on PyTorch, and copied once
 * into one on other engines.
 */
public class WhitenedMseLoss extends Loss {
    private final WhitenMode mode;
    private final float eps;
    private final float scale;

    /** Per-sample whitening, eps 1e-5, scale 1, named "WhitenedMseLoss". */
    public WhitenedMseLoss() {
        this(WhitenMode.PER_SAMPLE);
    }

    /** The given whitening, eps 1e-5, scale 1, named "WhitenedMseLoss". */
    public WhitenedMseLoss(WhitenMode mode) {
        this("WhitenedMseLoss", mode, LossKernels.WHITEN_EPS, 1f);
    }

    /**
     * @param name the loss's name (DJL reports losses by it)
     * @param mode over which axes the teacher is whitened
     * @param eps the LayerNorm epsilon, finite and &gt; 0
     * @param scale the factor of the loss and its gradient (a weight λ), finite
     */
    public WhitenedMseLoss(String name, WhitenMode mode, float eps, float scale) {
        super(name);
        if (mode == null) throw new IllegalArgumentException("mode is null");
        this.mode = mode;
        this.eps = KernelCall.positive("eps", eps);
        this.scale = KernelCall.finite("scale", scale);
    }

    public WhitenMode mode() {
        return mode;
    }

    public float eps() {
        return eps;
    }

    public float scale() {
        return scale;
    }

    /**
     * @param labels the teacher's features, one float32 (N,C,H,W) array
     * @param predictions the student's features, one float32 array of the same shape
     * @return the scalar loss, whose gradient with respect to the prediction is the kernel's
     * @throws IllegalArgumentException if the lists do not hold one array each, or for another dtype or shape
     */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        String op = getName();
        NDArray[] st = KernelCall.studentAndTeacher(op, labels, predictions);
        NDArray student = st[0], teacher = st[1];
        Shape shape = student.getShape();
        if (shape.dimension() != 4) {
            throw new IllegalArgumentException(op + ": the student must be (N,C,H,W), got shape " + shape);
        }
        if (!shape.equals(teacher.getShape())) {
            throw new IllegalArgumentException(op + ": the student " + shape + " and the teacher "
                    + teacher.getShape() + " must have the same shape");
        }
        int n = KernelCall.dim(shape, 0), c = KernelCall.dim(shape, 1), h = KernelCall.dim(shape, 2),
                w = KernelCall.dim(shape, 3);
        return KernelCall.evaluate(op, student, teacher, scale,
                (s, t, g, k) -> k.whitenedMse(s, t, n, c, h, w, mode, eps, scale, g));
    }
}
