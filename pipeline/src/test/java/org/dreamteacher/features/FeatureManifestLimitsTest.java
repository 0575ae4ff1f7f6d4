package org.dreamteacher.features;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Forged manifests are refused with a FeatureStoreException naming the file, never an Error or RuntimeException. */
class FeatureManifestLimitsTest {
    @TempDir
    Path dir;

    @Test
    void aManifestOverTheSizeLimitIsRefusedUnread() throws IOException {
        Path m = dir.resolve(FeatureManifest.FILE);
        try (RandomAccessFile raf = new RandomAccessFile(m.toFile(), "rw")) {
            raf.setLength(3L << 30); // sparse; reading it whole used to fail with OutOfMemoryError
        }
        FeatureStoreException e = assertThrows(FeatureStoreException.class, () -> FeatureManifest.read(dir));
        assertTrue(e.getMessage().startsWith(m.toString()) && e.getMessage().contains("more than"), e.getMessage());
        Files.delete(m);
    }

    @Test
    void wrongTypesInsideTheManifestAreAFeatureStoreException() throws IOException {
        String[] bodies = {
            "{\"format\":\"dreamteacher-feature-store\",\"version\":1,\"identity\":{\"mode\":\"real\",\"taps\":7}}",
            "{\"format\":\"dreamteacher-feature-store\",\"version\":1,\"identity\":{\"mode\":\"real\",\"taps\":[1,2]}}",
            "{\"format\":\"dreamteacher-feature-store\",\"version\":1,\"identity\":{\"imageShape\":\"x\"}}",
        };
        for (String body : bodies) {
            Files.writeString(dir.resolve(FeatureManifest.FILE), body);
            assertThrows(IOException.class, () -> FeatureManifest.read(dir), body);
        }
    }
}
