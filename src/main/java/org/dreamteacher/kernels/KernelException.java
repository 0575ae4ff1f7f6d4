package org.dreamteacher.kernels;

/** A native kernel failed for a reason other than a bad argument (a CUDA error, for instance). */
public class KernelException extends RuntimeException {
    private final int status;

    public KernelException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** The C ABI's {@code dt_status} value. */
    public int status() {
        return status;
    }
}
