package org.dreamteacher.kernels;

/** Distance between the per-sample normalised attention maps q of student and teacher. */
public enum AttentionDistance {
    /** 1/(N·P) Σ (q_s − q_t)², as in Zagoruyko and Komodakis' attention-transfer code. */
    SQUARED(0),
    /** 1/N Σ_n ‖q_s,n − q_t,n‖₂, as written in the DreamTeacher paper. */
    NORM(1);

    /** The value of the C ABI's {@code distance} argument. */
    public final int code;

    AttentionDistance(int code) {
        this.code = code;
    }
}
