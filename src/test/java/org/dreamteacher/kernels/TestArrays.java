package org.dreamteacher.kernels;

import java.util.Random;

/** Test inputs as Java arrays (deterministic), shared with the tests of the libtorch module. */
public final class TestArrays {
    private TestArrays() {}

    /** Gaussian values times scale, plus offset. */
    public static float[] gaussian(long seed, int count, double scale, double offset) {
        Random r = new Random(seed);
        float[] a = new float[count];
        for (int i = 0; i < count; i++) a[i] = (float) (offset + scale * r.nextGaussian());
        return a;
    }

    public static float[] constant(int count, float value) {
        float[] a = new float[count];
        java.util.Arrays.fill(a, value);
        return a;
    }

    public static int count(long... shape) {
        long c = 1;
        for (long s : shape) c *= s;
        return Math.toIntExact(c);
    }
}
