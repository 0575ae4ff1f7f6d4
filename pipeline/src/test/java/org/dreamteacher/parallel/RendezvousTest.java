package org.dreamteacher.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rank 0's rendezvous socket listens on the loopback address only, and port 0 is bound without a race. */
class RendezvousTest {
    @TempDir
    Path dir;

    private static final List<String> LOOPBACK = List.of("0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000");

    /** The local addresses of every socket listening on {@code port} (hex, as /proc/net/tcp{,6} write them). */
    private static List<String> listeners(int port) throws IOException {
        List<String> found = new ArrayList<>();
        String hexPort = String.format(Locale.ROOT, "%04X", port);
        for (String table : new String[] {"/proc/net/tcp", "/proc/net/tcp6"}) {
            for (String line : Files.readAllLines(Path.of(table), StandardCharsets.US_ASCII)) {
                String[] f = line.trim().split("\\s+");
                if (f.length < 10 || !f[1].contains(":") || !f[3].equals("0A")) continue;
                String[] addrPort = f[1].split(":");
                if (addrPort[1].equalsIgnoreCase(hexPort)) found.add(addrPort[0].toUpperCase(Locale.ROOT));
            }
        }
        return found;
    }

    @Test
    void rankZeroListensOnTheLoopbackAddressOnly() throws IOException {
        int port = LocalLauncher.freePort();
        DistributedContext ctx = DistributedContext.join(DistributedOptions.of(1, 0, "127.0.0.1", port, Duration.ofSeconds(30)));
        try {
            List<String> l = listeners(port);
            assertFalse(l.isEmpty(), "nothing listens on port " + port);
            for (String a : l) assertTrue(LOOPBACK.contains(a), "port " + port + " listens on " + a + ", not only on loopback: " + l);
        } finally {
            ctx.close();
        }
    }

    @Test
    void portZeroIsBoundByRankZeroAndPublished() throws IOException {
        Path file = dir.resolve("port");
        System.setProperty(Rendezvous.FILE_PROPERTY, file.toString());
        try {
            DistributedContext ctx = DistributedContext.join(DistributedOptions.of(1, 0, "127.0.0.1", 0, Duration.ofSeconds(30)));
            try {
                int port = Integer.parseInt(Files.readString(file).trim());
                assertTrue(port > 0, "published port " + port);
                List<String> l = listeners(port);
                assertFalse(l.isEmpty(), "nothing listens on the published port " + port);
                for (String a : l) assertTrue(LOOPBACK.contains(a), "listens on " + a);
                assertEquals(port, Rendezvous.awaitPort(1, 1000), "another rank reads the same port");
            } finally {
                ctx.close();
            }
        } finally {
            System.clearProperty(Rendezvous.FILE_PROPERTY);
        }
    }
}
