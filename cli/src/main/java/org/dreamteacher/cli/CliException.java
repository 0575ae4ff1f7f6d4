package org.dreamteacher.cli;

/** A failure the user can act on; the command line prints its message as one line, without a stack trace. */
public final class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CliException(String message) {
        super(message);
    }

    public CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
