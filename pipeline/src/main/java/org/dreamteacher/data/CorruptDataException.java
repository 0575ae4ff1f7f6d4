package org.dreamteacher.data;

import java.nio.file.Path;

/**
 * A file whose bytes do not make a valid data file: a bad magic number, a truncated or over-long body, a
 * header that contradicts the real size, an undecodable image. Raised before anything is allocated from the
 * file's own (possibly forged) sizes.
 */
public class CorruptDataException extends DataException {
    public CorruptDataException(String source, String problem) {
        super(source, problem);
    }

    public CorruptDataException(Path source, String problem) {
        super(source, problem);
    }

    public CorruptDataException(String source, String problem, Throwable cause) {
        super(source, problem, cause);
    }
}
