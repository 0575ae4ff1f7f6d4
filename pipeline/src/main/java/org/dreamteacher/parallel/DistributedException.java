package org.dreamteacher.parallel;

/** A data-parallel run cannot go on: a rank did not join, died, or stopped answering within the timeout. */
public final class DistributedException extends IllegalStateException {
    public DistributedException(String message) {
        super(message);
    }

    public DistributedException(String message, Throwable cause) {
        super(message, cause);
    }
}
