package org.dreamteacher.parallel;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.dreamteacher.torch.AtomicWrite;

/**
 * Where rank 0 listens for the rendezvous. libtorch's {@code TCPStore} takes no bind address and listens on
 * every interface; for a loopback master address (the {@code --nproc} case) rank 0 therefore binds the socket
 * itself, to that address only, and hands libtorch the listening descriptor ({@code masterListenFd}).
 *
 * <p>Port 0 means "any free port": rank 0 binds it (no window between choosing a port and binding it in which
 * another process could take it) and publishes the port in the file named by {@value #FILE_ENV}, which the
 * other ranks, started by {@link LocalLauncher} on the same machine, wait for.
 */
public final class Rendezvous {
    /** Environment variable naming the file in which rank 0 publishes the port it bound (port 0 only). */
    public static final String FILE_ENV = "DT_RENDEZVOUS_FILE";
    /** System property with the same meaning, for tests; the environment variable wins. */
    static final String FILE_PROPERTY = "dt.rendezvous.file";
    private static final List<ServerSocket> KEPT = new ArrayList<>();

    /** A socket bound and listening, and its file descriptor for libtorch. */
    public record Listener(int port, int fd) {}

    private Rendezvous() {}

    static boolean isLoopback(String addr) {
        try {
            return InetAddress.getByName(addr).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** Binds {@code addr:port} (port 0: any free one) and returns the listening socket's descriptor. */
    static Listener listenLoopback(String addr, int port) {
        ServerSocket s;
        try {
            s = new ServerSocket();
            s.bind(new InetSocketAddress(InetAddress.getByName(addr), port), 128);
        } catch (IOException e) {
            throw new DistributedException("rank 0 cannot listen on " + addr + ":" + port + " for the rendezvous: " + e.getMessage()
                    + (port != 0 ? " (is another run using that port? leave --master-port out to have a free one chosen)" : ""), e);
        }
        int bound = s.getLocalPort();
        int fd;
        try {
            fd = descriptorOf(bound);
        } catch (IOException e) {
            closeQuietly(s);
            throw new DistributedException("rank 0 bound " + addr + ":" + bound + " but cannot hand the socket to libtorch ("
                    + e.getMessage() + "); refusing to fall back to listening on every interface", e);
        }
        // libtorch owns the descriptor from now on; the Java object must never close it.
        synchronized (KEPT) {
            KEPT.add(s);
        }
        return new Listener(bound, fd);
    }

    /**
     * The descriptor number of this process's socket listening on {@code port}: the socket inodes listening on
     * it in /proc/net/tcp{,6}, matched against the links in /proc/self/fd (Linux).
     */
    static int descriptorOf(int port) throws IOException {
        Set<String> inodes = new HashSet<>();
        String hexPort = String.format(Locale.ROOT, "%04X", port);
        for (String table : new String[] {"/proc/net/tcp", "/proc/net/tcp6"}) {
            Path t = Path.of(table);
            if (!Files.isReadable(t)) continue;
            for (String line : Files.readAllLines(t, StandardCharsets.US_ASCII)) {
                String[] f = line.trim().split("\\s+");
                if (f.length < 10 || !f[1].contains(":")) continue;
                if (f[1].substring(f[1].indexOf(':') + 1).equalsIgnoreCase(hexPort) && f[3].equals("0A")) inodes.add(f[9]);
            }
        }
        if (inodes.isEmpty()) throw new IOException("no listening socket on port " + port + " in /proc/net/tcp");
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) fds::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException gone) {
                    continue;
                }
                if (target.startsWith("socket:[") && inodes.contains(target.substring(8, target.length() - 1)))
                    return Integer.parseInt(p.getFileName().toString());
            }
        }
        throw new IOException("the socket listening on port " + port + " is not among this process's descriptors");
    }

    private static Path file() {
        String f = System.getenv(FILE_ENV);
        if (f == null || f.isBlank()) f = System.getProperty(FILE_PROPERTY);
        return f == null || f.isBlank() ? null : Path.of(f);
    }

    /** Rank 0: writes the bound port to the rendezvous file, atomically. */
    static void publishPort(int port) {
        Path f = file();
        if (f == null) return;
        try {
            AtomicWrite.writeString(f, AtomicWrite.Access.OWNER, Integer.toString(port));
        } catch (IOException e) {
            throw new DistributedException("rank 0 cannot publish its rendezvous port in " + f + ": " + e.getMessage(), e);
        }
    }

    /** Other ranks with port 0: waits (at most {@code timeoutMs}) for rank 0 to publish its port. */
    static int awaitPort(int rank, long timeoutMs) {
        Path f = file();
        if (f == null)
            throw new DistributedException("rank " + rank + ": master port 0 needs " + FILE_ENV + " (set by --nproc) to learn rank 0's port");
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (true) {
            try {
                if (Files.isRegularFile(f)) {
                    int port = Integer.parseInt(Files.readString(f).trim());
                    if (port > 0 && port <= 65535) return port;
                }
            } catch (IOException | NumberFormatException retry) {
                // not written yet
            }
            if (System.nanoTime() > deadline)
                throw new DistributedException("rank " + rank + ": rank 0 did not publish its rendezvous port in " + f + " within "
                        + timeoutMs / 1000 + " s (did rank 0 start?)");
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DistributedException("rank " + rank + ": interrupted while waiting for rank 0's port", e);
            }
        }
    }

    private static void closeQuietly(ServerSocket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing bound to lose
        }
    }
}
