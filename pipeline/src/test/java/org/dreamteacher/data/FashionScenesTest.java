package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.CpuTensors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Segmentation scenes: determinism, label rules, and tensors. */
class FashionScenesTest {
    static FashionMnist fm;

    @BeforeAll
    static void load() throws IOException {
        fm = FashionMnist.embeddedSubset();
    }

    @Test
    void scenesAreDeterministicAndIndependentOfCount() {
        SegmentationDataset a = new FashionScenes(fm.train(), 5).generate(40);
        SegmentationDataset b = new FashionScenes(fm.train(), 5).generate(10);
        SegmentationDataset c = new FashionScenes(fm.train(), 6).generate(10);
        SegmentationDataset tail = new FashionScenes(fm.train(), 5).generate(30, 10);
        byte[] x = new byte[64 * 64], y = new byte[64 * 64];
        boolean differs = false;
        for (int i = 0; i < 10; i++) {
            a.images().copyImageBytes(i, x, 0);
            b.images().copyImageBytes(i, y, 0);
            assertArrayEquals(x, y);
            assertArrayEquals(a.labelMap(i), b.labelMap(i));
            c.images().copyImageBytes(i, y, 0);
            differs |= !java.util.Arrays.equals(x, y);
            a.images().copyImageBytes(30 + i, x, 0);
            tail.images().copyImageBytes(i, y, 0);
            assertArrayEquals(x, y);
        }
        assertTrue(differs, "another seed gives other scenes");
    }

    @Test
    void labelsFollowTheRules() {
        FashionScenes gen = new FashionScenes(fm.test(), 9);
        int n = 200;
        SegmentationDataset s = gen.generate(n);
        assertEquals(11, s.numClasses());
        assertEquals(FashionScenes.NUM_CLASSES, gen.numClasses());
        assertEquals("background", s.classNames().get(0));
        assertEquals("T-shirt/top", s.classNames().get(1));
        byte[] img = new byte[64 * 64];
        int[] counts = new int[5];
        for (int i = 0; i < n; i++) {
            List<FashionScenes.Placement> items = gen.layout(i);
            assertTrue(items.size() >= 1 && items.size() <= 4);
            counts[items.size()]++;
            Set<Integer> allowed = new HashSet<>();
            allowed.add(0);
            for (FashionScenes.Placement p : items) {
                allowed.add(p.itemClass() + 1);
                assertEquals(fm.test().label(p.sourceIndex()), p.itemClass());
                assertTrue(p.x() >= 0 && p.x() <= 36 && p.y() >= 0 && p.y() <= 36);
            }
            s.images().copyImageBytes(i, img, 0);
            int[] map = s.labelMap(i);
            Set<Integer> present = new HashSet<>();
            for (int k = 0; k < map.length; k++) {
                assertTrue(map[k] >= 0 && map[k] <= 10);
                assertEquals(map[k] > 0, (img[k] & 0xFF) > 51, "foreground exactly above the threshold");
                present.add(map[k]);
            }
            assertTrue(present.contains(0), "background present in scene " + i);
            assertTrue(allowed.containsAll(present), "scene " + i + " labels " + present + " not among its items " + allowed);
            FashionScenes.Placement top = items.get(items.size() - 1);
            assertTrue(present.contains(top.itemClass() + 1), "the top item is visible");
            // The top item's foreground pixels are all labelled with its class.
            byte[] item = new byte[28 * 28];
            fm.test().copyImageBytes(top.sourceIndex(), item, 0);
            for (int yy = 0; yy < 28; yy++)
                for (int xx = 0; xx < 28; xx++)
                    if ((item[yy * 28 + xx] & 0xFF) > 51) assertEquals(top.itemClass() + 1, map[(top.y() + yy) * 64 + top.x() + xx]);
        }
        for (int k = 1; k <= 4; k++) assertTrue(counts[k] > 20, "item counts spread over 1..4: " + java.util.Arrays.toString(counts));
        long[] pixels = s.pixelsPerClass();
        for (int k = 0; k < 11; k++) assertTrue(pixels[k] > 0, "class " + k + " appears");
    }

    @Test
    void trainAndTestScenesUseTheirOwnItemsAndMakeTensors() {
        FashionScenes train = new FashionScenes(fm.train(), 1), test = new FashionScenes(fm.test(), 1);
        for (int i = 0; i < 20; i++) {
            for (FashionScenes.Placement p : train.layout(i)) assertTrue(p.sourceIndex() < 6000);
            for (FashionScenes.Placement p : test.layout(i)) assertTrue(p.sourceIndex() < 1000);
        }
        SegmentationDataset s = test.generate(8);
        try (PointerScope scope = new PointerScope()) {
            int[] idx = {7, 0, 3};
            Tensor x = s.toTensor(idx), y = s.labelsTensor(idx);
            assertArrayEquals(new long[] {3, 1, 64, 64}, x.sizes().vec().get());
            assertArrayEquals(new long[] {3, 64, 64}, y.sizes().vec().get());
            assertEquals(ScalarType.Long, y.scalar_type().intern());
            long[] labels = CpuTensors.toLongs(y);
            int[] map = s.labelMap(0);
            for (int k = 0; k < map.length; k++) assertEquals(map[k], labels[64 * 64 + k]);
            Batches.Batch b = Batches.of(s).batchSize(4).seed(2).augmentation(Augmentation.flip()).build().batch(0, 0);
            assertArrayEquals(new long[] {4, 64, 64}, b.labels().sizes().vec().get());
            float[] img = CpuTensors.toFloats(b.images());
            long[] lab = CpuTensors.toLongs(b.labels());
            for (int k = 0; k < lab.length; k++) assertEquals(lab[k] > 0, img[k] > 51 / 127.5f - 1f + 1e-6f, "flipped together");
        }
        assertFalse(s.images().hasLabels());
    }
}
