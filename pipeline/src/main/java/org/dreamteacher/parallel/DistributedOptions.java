package org.dreamteacher.parallel;

import java.time.Duration;
import java.util.Map;

/**
 * Where and how a process joins a data-parallel run, as torchrun describes it: {@code worldSize} processes,
 * this one being {@code rank}, meeting at a TCP store that rank 0 hosts on {@code masterAddr:masterPort}.
 * {@code timeout} bounds every wait: joining, and each collective operation (a rank that dies or stops
 * answering makes the others fail within it). {@code bucketBytes} caps the gradients flattened into one
 * all-reduce.
 */
public record DistributedOptions(int worldSize, int rank, String masterAddr, int masterPort, Duration timeout, long bucketBytes) {
    public static final String DEFAULT_ADDR = "127.0.0.1";
    public static final int DEFAULT_PORT = 29500;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

    public DistributedOptions {
        if (worldSize < 1) throw new IllegalArgumentException("world size must be >= 1, got " + worldSize);
        if (rank < 0 || rank >= worldSize) throw new IllegalArgumentException("rank must be in 0.." + (worldSize - 1) + ", got " + rank);
        if (masterAddr == null || masterAddr.isBlank()) throw new IllegalArgumentException("master address is empty");
        // 0: rank 0 binds a free port itself and publishes it in the file named by $DT_RENDEZVOUS_FILE (--nproc)
        if (masterPort < 0 || masterPort > 65535) throw new IllegalArgumentException("master port must be in 1..65535, got " + masterPort);
        if (timeout == null || timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be > 0, got " + timeout);
        if (bucketBytes < 4) throw new IllegalArgumentException("bucket size must be >= 4 bytes, got " + bucketBytes);
    }

    public static DistributedOptions of(int worldSize, int rank, String masterAddr, int masterPort, Duration timeout) {
        return new DistributedOptions(worldSize, rank, masterAddr, masterPort, timeout, DEFAULT_BUCKET_BYTES);
    }

    public DistributedOptions withBucketBytes(long bytes) {
        return new DistributedOptions(worldSize, rank, masterAddr, masterPort, timeout, bytes);
    }

    /**
     * The options torchrun's environment variables give (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT), overridden
     * by the non-null arguments; a world size of 1 when neither says otherwise.
     */
    public static DistributedOptions resolve(Map<String, String> env, Integer worldSize, Integer rank, String masterAddr, Integer masterPort,
            Duration timeout) {
        int w = worldSize != null ? worldSize : intEnv(env, "WORLD_SIZE", 1);
        int r = rank != null ? rank : intEnv(env, "RANK", 0);
        String a = masterAddr != null ? masterAddr : env.getOrDefault("MASTER_ADDR", DEFAULT_ADDR);
        int p = masterPort != null ? masterPort : intEnv(env, "MASTER_PORT", DEFAULT_PORT);
        return of(w, r, a, p, timeout != null ? timeout : DEFAULT_TIMEOUT);
    }

    private static int intEnv(Map<String, String> env, String name, int fallback) {
        String v = env.get(name);
        if (v == null || v.isBlank()) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("environment variable " + name + " must be an integer, got '" + v + "'");
        }
    }

    public boolean distributed() {
        return worldSize > 1;
    }
}
