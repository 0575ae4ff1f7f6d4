package org.dreamteacher.torch;

import java.io.IOException;
import java.nio.file.Path;

/** A tensor file (checkpoint, feature chunk) that cannot be read: the message names the file and the problem. */
public class TensorFileException extends IOException {
    private final Path file;

    public TensorFileException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public Path file() {
        return file;
    }
}
