package org.dreamteacher.data;

import java.util.Arrays;

/**
 * Deterministic index selections for the label-efficient protocol (docs/design.md section 6): seeded shuffles and
 * balanced labelled subsets (1%, 10%, 100% of the labels, the same number per class).
 *
 * <p>Balanced subsets are nested by construction: each class's members are put in one seeded order that does
 * not depend on the fraction, and a subset takes the first k of every class, so for one seed the 1% subset
 * lies inside the 10% subset, which lies inside the 100% set. Comparisons across fractions therefore differ
 * only in how many labels they see, not in which.
 */
public final class Splits {
    private Splits() {}

    /** A seeded permutation of 0..n-1. */
    public static int[] shuffled(int n, long seed) {
        int[] a = new int[n];
        Arrays.setAll(a, i -> i);
        new SeededRandom(seed).shuffle(a);
        return a;
    }

    /**
     * The per-class count of a balanced subset holding {@code fraction} of {@code total} labelled examples:
     * round(fraction * total / numClasses), at least 1. 1% of 60,000 over 10 classes is 60 per class.
     */
    public static int perClassCount(int total, int numClasses, double fraction) {
        if (!(fraction > 0 && fraction <= 1)) throw new IllegalArgumentException("fraction must be in (0, 1]: " + fraction);
        if (numClasses <= 0) throw new IllegalArgumentException("numClasses must be positive: " + numClasses);
        return (int) Math.max(1, Math.round(fraction * total / numClasses));
    }

    /**
     * A balanced subset with {@code fraction} of the labels, ascending indices. A fraction of 1 returns every
     * index (the full labelled set, balanced or not); a smaller fraction takes
     * {@link #perClassCount(int, int, double)} examples of every class and fails if a class has fewer.
     */
    public static int[] balancedSubset(int[] labels, int numClasses, double fraction, long seed) {
        int perClass = perClassCount(labels.length, numClasses, fraction);
        if (fraction == 1.0) {
            checkLabels(labels, numClasses);
            int[] all = new int[labels.length];
            Arrays.setAll(all, i -> i);
            return all;
        }
        return balancedSubsetPerClass(labels, numClasses, perClass, seed);
    }

    /** {@code perClass} examples of every class (seeded, nested in {@code perClass}), ascending indices. */
    public static int[] balancedSubsetPerClass(int[] labels, int numClasses, int perClass, long seed) {
        if (perClass < 0) throw new IllegalArgumentException("perClass must be >= 0: " + perClass);
        int[][] members = membersByClass(labels, numClasses);
        int[] out = new int[Math.multiplyExact(perClass, numClasses)];
        int pos = 0;
        for (int k = 0; k < numClasses; k++) {
            int[] m = members[k];
            if (m.length < perClass)
                throw new IllegalArgumentException("class " + k + " has only " + m.length + " examples; a balanced subset needs "
                        + perClass + " per class");
            new SeededRandom(SeededRandom.mix(seed, SeedStreams.CLASS_ORDER, k)).shuffle(m);
            System.arraycopy(m, 0, out, pos, perClass);
            pos += perClass;
        }
        Arrays.sort(out);
        return out;
    }

    /** The indices in 0..n-1 that are not in {@code subset}, ascending (e.g. the unlabelled rest). */
    public static int[] complement(int n, int[] subset) {
        boolean[] in = new boolean[n];
        for (int i : subset) in[i] = true;
        int[] out = new int[n - (int) java.util.stream.IntStream.range(0, n).filter(i -> in[i]).count()];
        int pos = 0;
        for (int i = 0; i < n; i++) if (!in[i]) out[pos++] = i;
        return out;
    }

    private static int[][] membersByClass(int[] labels, int numClasses) {
        checkLabels(labels, numClasses);
        int[] counts = new int[numClasses];
        for (int l : labels) counts[l]++;
        int[][] members = new int[numClasses][];
        for (int k = 0; k < numClasses; k++) members[k] = new int[counts[k]];
        int[] fill = new int[numClasses];
        for (int i = 0; i < labels.length; i++) members[labels[i]][fill[labels[i]]++] = i;
        return members;
    }

    private static void checkLabels(int[] labels, int numClasses) {
        if (numClasses <= 0) throw new IllegalArgumentException("numClasses must be positive: " + numClasses);
        for (int i = 0; i < labels.length; i++)
            if (labels[i] < 0 || labels[i] >= numClasses)
                throw new IllegalArgumentException("label " + labels[i] + " at " + i + " is outside 0.." + (numClasses - 1));
    }
}
