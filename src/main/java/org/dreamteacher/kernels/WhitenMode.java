package org.dreamteacher.kernels;

/** Which statistics whiten the teacher in the whitened-MSE loss (LayerNorm without affine parameters). */
public enum WhitenMode {
    /** LayerNorm over (C,H,W) of each sample, as {@code F.layer_norm(t, t.shape[1:])}. */
    PER_SAMPLE(0),
    /** LayerNorm over C at each (n,h,w). */
    PER_PIXEL(1);

    /** The value of the C ABI's {@code mode} argument. */
    public final int code;

    WhitenMode(int code) {
        this.code = code;
    }
}
