package org.dreamteacher.kernels;

/** A backend was asked for by name but cannot run here; the message says why and lists those that can. */
public class BackendUnavailableException extends IllegalStateException {
    public BackendUnavailableException(String message) {
        super(message);
    }
}
