package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Seeded shuffles and balanced, nested label subsets. */
class SplitsTest {
    /** 60,000 labels, 6,000 per class, in a scrambled order (like Fashion-MNIST's training set). */
    private static int[] labels() {
        int[] l = new int[60000];
        for (int i = 0; i < l.length; i++) l[i] = (int) ((i * 7919L) % 10);
        return l;
    }

    private static Set<Integer> set(int[] a) {
        Set<Integer> s = new HashSet<>();
        for (int i : a) s.add(i);
        return s;
    }

    @Test
    void shuffleIsASeededPermutation() {
        int[] a = Splits.shuffled(1000, 42), b = Splits.shuffled(1000, 42), c = Splits.shuffled(1000, 43);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c));
        int[] sorted = a.clone();
        Arrays.sort(sorted);
        assertArrayEquals(IntStream.range(0, 1000).toArray(), sorted);
        // The generator's stream is fixed by the source, not the JDK: pin a few values.
        SeededRandom r = new SeededRandom(0);
        assertEquals(0xE220A8397B1DCDAFL, r.nextLong());
        assertEquals(0x6E789E6AA1B965F4L, r.nextLong());
    }

    @Test
    void balancedSubsetsHaveTheSameCountPerClassAndAreNested() {
        int[] labels = labels();
        assertEquals(60, Splits.perClassCount(60000, 10, 0.01));
        assertEquals(600, Splits.perClassCount(60000, 10, 0.10));
        int[] one = Splits.balancedSubset(labels, 10, 0.01, 7);
        int[] ten = Splits.balancedSubset(labels, 10, 0.10, 7);
        int[] all = Splits.balancedSubset(labels, 10, 1.0, 7);
        assertEquals(600, one.length);
        assertEquals(6000, ten.length);
        assertEquals(60000, all.length);
        for (int[] subset : new int[][] {one, ten}) {
            int[] counts = new int[10];
            for (int i : subset) counts[labels[i]]++;
            for (int c : counts) assertEquals(subset.length / 10, c);
            assertEquals(subset.length, set(subset).size(), "no repeats");
            int[] sorted = subset.clone();
            Arrays.sort(sorted);
            assertArrayEquals(sorted, subset, "ascending");
        }
        assertTrue(set(ten).containsAll(set(one)), "1% inside 10%");
        assertTrue(set(all).containsAll(set(ten)));
        assertArrayEquals(one, Splits.balancedSubset(labels, 10, 0.01, 7), "deterministic");
        assertNotEquals(set(one), set(Splits.balancedSubset(labels, 10, 0.01, 8)), "seed matters");
        int[] rest = Splits.complement(labels.length, ten);
        assertEquals(54000, rest.length);
        Set<Integer> r = set(rest);
        for (int i : ten) assertFalse(r.contains(i));
    }

    @Test
    void impossibleBalanceIsRefused() {
        int[] labels = {0, 0, 0, 1};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Splits.balancedSubsetPerClass(labels, 2, 2, 1));
        assertTrue(e.getMessage().contains("class 1 has only 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Splits.balancedSubset(labels, 2, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> Splits.balancedSubset(new int[] {0, 5}, 2, 0.5, 1));
    }
}
