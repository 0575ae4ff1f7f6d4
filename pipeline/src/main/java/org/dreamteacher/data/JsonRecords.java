package org.dreamteacher.data;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import org.dreamteacher.torch.AtomicWrite;

/**
 * Small records kept as pretty-printed JSON files beside a run ({@code labelled.json}, say): written atomically
 * and readable by everyone, read strictly (an unknown field is an error, as is anything the record's own
 * constructor refuses), with errors that name the file and what it should have held.
 */
final class JsonRecords {
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private JsonRecords() {}

    static void write(Path file, Object record) throws IOException {
        AtomicWrite.writeString(file, AtomicWrite.Access.EVERYONE, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(record));
    }

    /** Reads a {@code type}; a malformed file gives an {@link IOException} saying it is not a {@code what} file. */
    static <T> T read(Path file, Class<T> type, String what) throws IOException {
        try {
            return JSON.readValue(file.toFile(), type);
        } catch (com.fasterxml.jackson.core.JacksonException | IllegalArgumentException e) {
            throw new IOException(file + ": not a " + what + " file (" + e.getMessage() + ")", e);
        }
    }
}
