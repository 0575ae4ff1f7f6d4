package org.dreamteacher.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import org.dreamteacher.kernels.AttentionDistance;
import org.dreamteacher.kernels.LossKernels;

/**
 * Attention transfer between a student's activations and a teacher's (Zagoruyko and Komodakis; DreamTeacher's
 * second feature loss): each (C,H,W) activation is pooled to a map A = Σ_c |x_c|^p, flattened and normalised per
 * sample, q = A/max(‖A‖₂, eps), and the maps are compared with the {@link AttentionDistance#SQUARED} distance
 * mean((q_s − q_t)²) or the {@link AttentionDistance#NORM} distance mean_n ‖q_s − q_t‖₂, times {@code scale}
 * ({@code docs/design.md} section 3.2).
 *
 * <p>{@link #evaluate(NDList, NDList)} takes the teacher's activations (N,Ct,H,W) as the label and the student's
 * (N,Cs,H,W) as the prediction, float32 on the CPU; the channel counts may differ. Loss and gradient come from
 * one call of the native kernel; memory is handled as in {@link WhitenedMseLoss} (no copies on DJL's PyTorch
 * engine for contiguous arrays).
 */
public class AttentionTransferLoss extends Loss {
    private final float p;
    private final AttentionDistance distance;
    private final float eps;
    private final float scale;

    /** p = 2, squared distance, eps 1e-12, scale 1, named "AttentionTransferLoss". */
    public AttentionTransferLoss() {
        this(LossKernels.ATTENTION_POOL_P, AttentionDistance.SQUARED);
    }

    /** The given exponent and distance, eps 1e-12, scale 1, named "AttentionTransferLoss". */
    public AttentionTransferLoss(float p, AttentionDistance distance) {
        this("AttentionTransferLoss", p, distance, LossKernels.ATTENTION_EPS, 1f);
    }

    /**
     * @param name the loss's name (DJL reports losses by it)
     * @param p the pooling exponent, finite and &gt; 0
     * @param distance how the normalised maps are compared
     * @param eps the floor of the maps' norms, finite and &gt; 0
     * @param scale the factor of the loss and its gradient (a weight λ), finite
     */
    public AttentionTransferLoss(String name, float p, AttentionDistance distance, float eps, float scale) {
        super(name);
        if (distance == null) throw new IllegalArgumentException("distance is null");
        this.p = KernelCall.positive("p", p);
        this.distance = distance;
        this.eps = KernelCall.positive("eps", eps);
        this.scale = KernelCall.finite("scale", scale);
    }

    public float p() {
        return p;
    }

    public AttentionDistance distance() {
        return distance;
    }

    public float eps() {
        return eps;
    }

    public float scale() {
        return scale;
    }

    /**
     * @param labels the teacher's activations, one float32 (N,Ct,H,W) array
     * @param predictions the student's activations, one float32 (N,Cs,H,W) array with the teacher's N, H and W
     * @return the scalar loss, whose gradient with respect to the prediction is the kernel's
     * @throws IllegalArgumentException if the lists do not hold one array each, or for another dtype or shape
     */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        String op = getName();
        NDArray[] st = KernelCall.studentAndTeacher(op, labels, predictions);
        NDArray student = st[0], teacher = st[1];
        Shape s = student.getShape();
        Shape t = teacher.getShape();
        if (s.dimension() != 4 || t.dimension() != 4) {
            throw new IllegalArgumentException(op + ": the student (N,Cs,H,W) and the teacher (N,Ct,H,W) must have "
                    + "4 dimensions, got " + s + " and " + t);
        }
        if (s.get(0) != t.get(0) || s.get(2) != t.get(2) || s.get(3) != t.get(3)) {
            throw new IllegalArgumentException(op + ": the student " + s + " and the teacher " + t
                    + " must agree in N, H and W (only the channels may differ)");
        }
        int n = KernelCall.dim(s, 0), cs = KernelCall.dim(s, 1), ct = KernelCall.dim(t, 1),
                h = KernelCall.dim(s, 2), w = KernelCall.dim(s, 3);
        return KernelCall.evaluate(op, student, teacher, scale,
                (x, y, g, k) -> k.attentionTransfer(x, cs, y, ct, n, h, w, p, distance, eps, scale, g));
    }
}
