package org.dreamteacher.features;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A feature store that cannot be used as it is: a missing, truncated or corrupt chunk, or a manifest that does
 * not match its chunks. The message starts with the offending file, so that the user knows what to delete or
 * re-encode.
 */
public class FeatureStoreException extends IOException {
    private final Path file;

    public FeatureStoreException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public FeatureStoreException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }
}
