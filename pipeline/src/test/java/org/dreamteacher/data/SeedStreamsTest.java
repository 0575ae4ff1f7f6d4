package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SeedStreamsTest {
    /** The salts as ASCII: a changed value would change what every seed gives, so each is pinned here. */
    @Test
    void everySaltIsPinnedAndDistinct() throws IllegalAccessException {
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("CLASS_ORDER", "Class");
        expected.put("BATCH_ORDER", "Order");
        expected.put("AUGMENTATION", "Augm");
        expected.put("BACKBONE_INIT", "Init");
        expected.put("HEAD_INIT", "Head");
        expected.put("TRAINING_STEP", "Step");
        expected.put("TRAIN_SCENES", "TrSce");
        expected.put("PRETRAINING_SCENES", "PreScene");
        expected.put("PROBE_FOLDS", "ProbeCVP");
        expected.put("SYNTHETIC_SAMPLES", "SampleNz");
        expected.put("ENCODING_NOISE", "EncodeNz");
        expected.put("LABELLED_BATCHES", "Labelled");
        Map<String, String> actual = new LinkedHashMap<>();
        for (Field f : SeedStreams.class.getDeclaredFields()) {
            if (!Modifier.isStatic(f.getModifiers()) || f.getType() != long.class) continue;
            actual.put(f.getName(), ascii(f.getLong(null)));
        }
        assertEquals(expected, actual);
        assertEquals(expected.size(), new java.util.HashSet<>(actual.values()).size());
    }

    private static String ascii(long v) {
        byte[] b = java.math.BigInteger.valueOf(v).toByteArray();
        int from = b[0] == 0 ? 1 : 0;
        return new String(b, from, b.length - from, StandardCharsets.US_ASCII);
    }
}
