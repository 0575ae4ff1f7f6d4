package org.dreamteacher.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A data source that cannot be used as asked (a missing file, an empty image folder). The message always
 * starts with the source (a path or a classpath resource), so that a user can find the culprit without a
 * stack trace.
 */
public class DataException extends IOException {
    private final String source;

    public DataException(String source, String problem) {
        super(source + ": " + problem);
        this.source = source;
    }

    public DataException(Path source, String problem) {
        this(String.valueOf(source), problem);
    }

    public DataException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
        this.source = source;
    }

    /** The file, folder or resource the problem is about. */
    public String source() {
        return source;
    }
}
