package org.dreamteacher.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicWriteTest {
    @TempDir
    Path dir;

    @Test
    void writesTheContentWithTheChosenPermissions() throws IOException {
        Path shared = dir.resolve("sub/report.json"), own = dir.resolve("model.bin");
        AtomicWrite.writeString(shared, AtomicWrite.Access.EVERYONE, "{\"a\": \"\u00e9\"}\n");
        AtomicWrite.write(own, ch -> AtomicWrite.writeFully(ch, java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3})));
        assertEquals("{\"a\": \"\u00e9\"}\n", Files.readString(shared, StandardCharsets.UTF_8));
        assertEquals(List.of((byte) 1, (byte) 2, (byte) 3), List.of(box(Files.readAllBytes(own))));
        if (Files.getFileStore(dir).supportsFileAttributeView("posix")) {
            assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(shared)));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(own)));
        }
        assertEquals(List.of(), temporaryFiles());
    }

    @Test
    void aFailingBodyKeepsThePreviousVersionAndLeavesNoTemporaryFile() throws IOException {
        Path file = dir.resolve("picture.png");
        AtomicWrite.writeString(file, AtomicWrite.Access.EVERYONE, "old");
        IOException e = assertThrows(IOException.class, () -> AtomicWrite.writePath(file, AtomicWrite.Access.EVERYONE, tmp -> {
            Files.writeString(tmp, "half");
            throw new IOException("No space left on device");
        }));
        assertEquals(file + ": cannot write: No space left on device (its previous version is kept)", e.getMessage());
        assertEquals("old", Files.readString(file));
        assertEquals(List.of(), temporaryFiles());
    }

    @Test
    void aStreamedTemporaryFileAppearsOnlyWhenReplaced() throws IOException {
        Path file = dir.resolve("array.npy");
        Path tmp = AtomicWrite.temporaryFile(file, AtomicWrite.Access.EVERYONE);
        assertEquals(dir, tmp.getParent());
        assertTrue(tmp.getFileName().toString().matches("\\.array\\.npy\\.\\d+\\.tmp"), tmp.toString());
        Files.writeString(tmp, "data");
        assertFalse(Files.exists(file));
        AtomicWrite.replace(tmp, file);
        assertEquals("data", Files.readString(file));
        assertFalse(Files.exists(tmp));
    }

    private List<Path> temporaryFiles() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
        }
    }

    private static Byte[] box(byte[] b) {
        Byte[] out = new Byte[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i];
        return out;
    }
}
