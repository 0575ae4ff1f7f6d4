package org.dreamteacher.data;

/**
 * A small, fully specified random generator (SplitMix64) for everything in the data pipeline that must be
 * reproducible: shuffles, subsets, batch orders, augmentations, scene layouts. Its sequence is fixed by this
 * source file, not by the JDK, so results do not change between Java versions; {@link #mix(long...)} derives
 * independent seeds for sub-streams (per class, per epoch, per sample) so that each can be recomputed on its
 * own, e.g. when resuming at epoch e, step k.
 */
public final class SeededRandom {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private long state;

    public SeededRandom(long seed) {
        this.state = seed;
    }

    /** A seed derived from {@code parts}, well mixed, different for any change of any part or of their order. */
    public static long mix(long... parts) {
        long h = 0x6A09E667F3BCC909L;
        for (long p : parts) h = scramble(h ^ scramble(p + GOLDEN)) + GOLDEN;
        return scramble(h);
    }

    public long nextLong() {
        state += GOLDEN;
        return scramble(state);
    }

    /** Uniform in [0, bound), unbiased (rejection sampling). */
    public int nextInt(int bound) {
        if (bound <= 0) throw new IllegalArgumentException("bound must be positive: " + bound);
        long limit = (1L << 32) - ((1L << 32) % bound);
        while (true) {
            long r = nextLong() >>> 32;
            if (r < limit) return (int) (r % bound);
        }
    }

    /** Uniform in [lo, hi] (both included). */
    public int nextInt(int lo, int hi) {
        if (hi < lo) throw new IllegalArgumentException("empty range [" + lo + ", " + hi + "]");
        return lo + nextInt(hi - lo + 1);
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    public boolean nextBoolean() {
        return nextLong() < 0;
    }

    /** Fisher-Yates shuffle in place. */
    public void shuffle(int[] a) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static long scramble(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
