package org.dreamteacher.distill;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Which backbone level regresses which teacher tap: each teacher feature is paired with the backbone level of
 * the same stride (relative to the input). Pairs are kept finest first, the order the regressor uses. The
 * regressor reads all {@code levelCount} backbone levels; levels without a tap feed its top-down path only.
 */
public record TapPairing(int[] strides, int[] backboneLevels, long[] backboneChannels, long[] teacherChannels,
        String[] teacherNames, int levelCount) {

    /**
     * @param backboneStrides  the backbone's levels' strides (C2..C5)
     * @param backboneChannels their channel counts
     * @param teacherStrides   the teacher taps' strides
     * @param teacherChannels  their channel counts
     */
    public static TapPairing pair(int[] backboneStrides, long[] backboneChannels, String[] teacherNames, int[] teacherStrides,
            long[] teacherChannels) {
        Integer[] order = new Integer[teacherStrides.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Integer.compare(teacherStrides[a], teacherStrides[b]));
        int n = order.length;
        int[] strides = new int[n], levels = new int[n];
        long[] bc = new long[n], tc = new long[n];
        String[] names = new String[n];
        List<Integer> used = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            int i = order[k];
            int level = -1;
            for (int j = 0; j < backboneStrides.length; j++) if (backboneStrides[j] == teacherStrides[i]) level = j;
            if (level < 0)
                throw new IllegalArgumentException("teacher tap '" + teacherNames[i] + "' has stride " + teacherStrides[i]
                        + " but the backbone's levels have strides " + Arrays.toString(backboneStrides)
                        + ": choose taps (or a backbone stem) with matching strides");
            if (used.contains(level))
                throw new IllegalArgumentException("two teacher taps have stride " + teacherStrides[i] + "; keep one tap per stride");
            used.add(level);
            strides[k] = teacherStrides[i];
            levels[k] = level;
            bc[k] = backboneChannels[level];
            tc[k] = teacherChannels[i];
            names[k] = teacherNames[i];
        }
        return new TapPairing(strides, levels, bc, tc, names, backboneStrides.length);
    }

    public int size() {
        return strides.length;
    }

    /** Which levels feed the regressor and which are compared with which tap, for logs and run states. */
    public String describe() {
        StringBuilder b = new StringBuilder("regressor reads c2..c" + (levelCount + 1) + " (PPM on c" + (levelCount + 1)
                + "); compared: ").append(this);
        List<String> free = new ArrayList<>();
        for (int l = 0; l < levelCount; l++) {
            final int level = l;
            if (Arrays.stream(backboneLevels).noneMatch(x -> x == level)) free.add("c" + (l + 2));
        }
        if (!free.isEmpty()) b.append("; top-down path only: ").append(String.join(", ", free));
        return b.toString();
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        for (int k = 0; k < size(); k++) {
            if (k > 0) b.append(", ");
            b.append("c").append(backboneLevels[k] + 2).append(" (").append(backboneChannels[k]).append(" ch) <- ")
                    .append(teacherNames[k]).append(" (").append(teacherChannels[k]).append(" ch, stride ").append(strides[k]).append(')');
        }
        return b.toString();
    }
}
