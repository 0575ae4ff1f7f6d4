package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Iterator;
import org.bytedeco.javacpp.PointerScope;
import org.dreamteacher.torch.CpuTensors;
import org.junit.jupiter.api.Test;

/** Per-epoch seeded batch orders, resumption, and augmentation. */
class BatchesTest {
    /** 50 labelled 2 x 3 x 4 float images whose values encode (image, channel, y, x) and are never symmetric. */
    private static ImageDataset data() {
        int n = 50, c = 2, h = 3, w = 4;
        float[] px = new float[n * c * h * w];
        for (int i = 0; i < px.length; i++) px[i] = (i % 97) / 97f;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 5;
        return ImageDataset.ofFloats(px, n, c, h, w, labels, 5, null);
    }

    @Test
    void ordersAreSeededPerEpochAndCoverEverything() {
        Batches b = Batches.of(data()).batchSize(8).seed(3).build();
        assertEquals(7, b.stepsPerEpoch());
        int[] e0 = b.order(0), e1 = b.order(1);
        assertArrayEquals(e0, Batches.of(data()).batchSize(8).seed(3).build().order(0));
        assertFalse(Arrays.equals(e0, e1));
        assertFalse(Arrays.equals(e0, Batches.of(data()).batchSize(8).seed(4).build().order(0)));
        int[] sorted = e0.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 50; i++) assertEquals(i, sorted[i]);
        assertEquals(2, b.indices(0, 6).length, "last partial batch kept");
        Batches dropped = Batches.of(data()).batchSize(8).seed(3).dropLast(true).build();
        assertEquals(6, dropped.stepsPerEpoch());
        assertEquals(48, dropped.samplesPerEpoch());
        int[] subset = {4, 8, 15, 16, 23, 42};
        Batches sub = Batches.of(data()).indices(subset).batchSize(4).seed(1).build();
        int[] o = sub.order(2);
        Arrays.sort(o);
        assertArrayEquals(subset, o);
        int[] unshuffled = Batches.of(data()).batchSize(8).shuffle(false).build().indices(5, 1);
        assertArrayEquals(new int[] {8, 9, 10, 11, 12, 13, 14, 15}, unshuffled);
    }

    @Test
    void resumingGivesTheSameBatchesIncludingAugmentation() {
        Batches b = Batches.of(data()).batchSize(8).seed(11).augmentation(new Augmentation(true, 1)).build();
        try (PointerScope scope = new PointerScope()) {
            Iterator<Batches.Batch> full = b.epoch(3, 0);
            for (int k = 0; k < 4; k++) full.next();
            Batches.Batch uninterrupted = full.next();
            Batches.Batch resumed = b.epoch(3, 4).next();
            Batches.Batch direct = Batches.of(data()).batchSize(8).seed(11).augmentation(new Augmentation(true, 1)).build().batch(3, 4);
            assertEquals(4, resumed.step());
            assertArrayEquals(uninterrupted.indices(), resumed.indices());
            assertArrayEquals(CpuTensors.toFloats(uninterrupted.images()), CpuTensors.toFloats(resumed.images()));
            assertArrayEquals(CpuTensors.toFloats(uninterrupted.images()), CpuTensors.toFloats(direct.images()));
            assertArrayEquals(CpuTensors.toLongs(uninterrupted.labels()), CpuTensors.toLongs(direct.labels()));
            int count = 0;
            for (Batches.Batch x : b.epoch(0)) count += x.indices().length;
            assertEquals(50, count);
        }
    }

    @Test
    void flipsMirrorImagesAndLabelsFollow() {
        ImageDataset d = data();
        Batches b = Batches.of(d).batchSize(50).shuffle(false).seed(5).augmentation(Augmentation.flip()).build();
        try (PointerScope scope = new PointerScope()) {
            Batches.Batch batch = b.batch(0, 0);
            float[] got = CpuTensors.toFloats(batch.images());
            assertArrayEquals(new long[] {50, 2, 3, 4}, batch.images().sizes().vec().get());
            int per = d.valuesPerImage(), flipped = 0;
            float[] orig = new float[per];
            for (int j = 0; j < 50; j++) {
                d.copyImage(j, orig, 0);
                float[] mine = Arrays.copyOfRange(got, j * per, (j + 1) * per);
                float[] mirror = new float[per];
                for (int c = 0; c < 2; c++)
                    for (int y = 0; y < 3; y++)
                        for (int x = 0; x < 4; x++) mirror[(c * 3 + y) * 4 + x] = orig[(c * 3 + y) * 4 + 3 - x];
                boolean same = Arrays.equals(mine, orig), mirrored = Arrays.equals(mine, mirror);
                assertTrue(same || mirrored, "image " + j + " is neither itself nor its mirror");
                if (mirrored) flipped++;
            }
            assertTrue(flipped > 10 && flipped < 40, flipped + " of 50 flipped");
            assertArrayEquals(Arrays.stream(d.labels()).asLongStream().toArray(), CpuTensors.toLongs(batch.labels()));
        }
    }

    @Test
    void padCropShiftsAndFillsWithBackground() {
        float[] px = new float[5 * 5];
        Arrays.fill(px, 1f);
        ImageDataset d = ImageDataset.ofFloats(px, 1, 1, 5, 5, null, 0, null);
        Batches b = Batches.of(d).batchSize(1).seed(2).augmentation(new Augmentation(false, 2)).build();
        boolean sawShift = false;
        try (PointerScope scope = new PointerScope()) {
            for (int e = 0; e < 20; e++) {
                Batches.Batch batch = b.batch(e, 0);
                assertNull(batch.labels());
                float[] v = CpuTensors.toFloats(batch.images());
                int background = 0;
                for (float f : v) {
                    assertTrue(f == 1f || f == -1f);
                    if (f == -1f) background++;
                }
                assertTrue(background <= 25 - 9, "a shift of at most 2 keeps a 3x3 core");
                if (background > 0) sawShift = true;
            }
        }
        assertTrue(sawShift);
    }
}
