package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.TreeMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SeedStreamsTest {
    /** The salts as ASCII: a changed value would change what every seed gives, so each is pinned here. */
    @Test
    void everySaltIsPinnedAndDistinct() throws IllegalAccessException {
        Map<String, String> actual = new TreeMap<>();
        for (Field f : SeedStreams.class.getDeclaredFields()) {
            if (!Modifier.isStatic(f.getModifiers()) || f.getType() != long.class) continue;
            actual.put(f.getName(), ascii(f.getLong(null)));
        }
        assertEquals("{AUGMENTATION=Augm, BACKBONE_INIT=Init, BATCH_ORDER=Order, CLASS_ORDER=Class, ENCODING_NOISE=EncodeNz, GAN_FEATURES=GAN-Feat, GAN_GRID=GAN-Grid, GAN_INVERSION=GAN-Invr, GAN_STEP=GAN-Step, GAN_STORE=GAN-Stor, HEAD_INIT=Head, "
                + "LABELLED_BATCHES=Labelled, PROBE_FOLDS=ProbeCVP, SYNTHETIC_SAMPLES=SampleNz, TRAINING_STEP=Step, TRAIN_SCENES=TrSce}", actual.toString());
        assertEquals(actual.size(), new java.util.HashSet<>(actual.values()).size(), "two streams share a salt");
    }

    /** The two step-seed formulas, pinned with values that overflow as Java's long arithmetic does. */
    @Test
    void stepSeedsArePinned() {
        assertEquals(2_000_006L + 5, SeedStreams.stepSeed(2, 5));
        assertEquals(Long.MAX_VALUE * 1_000_003L + 1, SeedStreams.stepSeed(Long.MAX_VALUE, 1));
        assertEquals(3 * 7_919L + 4, SeedStreams.stepNoiseSeed(3, 4));
        assertEquals(-7_919L, SeedStreams.stepNoiseSeed(-1, 0));
    }

    private static String ascii(long v) {
        byte[] b = java.math.BigInteger.valueOf(v).toByteArray();
        int from = b[0] == 0 ? 1 : 0;
        return new String(b, from, b.length - from, StandardCharsets.US_ASCII);
    }
}
