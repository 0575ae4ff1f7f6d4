package org.dreamteacher.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.Test;

class ConfusionMatrixTest {
    @Test
    void perfectPredictionHasMeanIoUOne() {
        ConfusionMatrix cm = new ConfusionMatrix(11);
        long[] labels = new long[500];
        for (int i = 0; i < labels.length; i++) labels[i] = (i * 7) % 11;
        cm.add(labels, labels.clone());
        assertEquals(1.0, cm.meanIoU(), 0.0);
        assertEquals(1.0, cm.pixelAccuracy(), 0.0);
        for (double v : cm.iou()) assertEquals(1.0, v, 0.0);
    }

    @Test
    void knownMatrixGivesHandComputedIoU() {
        // rows = truth, columns = prediction
        ConfusionMatrix cm = ConfusionMatrix.of(new long[][] {
                {50, 2, 3, 0},
                {4, 10, 1, 0},
                {6, 0, 20, 0},
                {0, 0, 0, 0}});
        // class 0: TP 50, row 55, column 60 -> 50 / (55 + 60 - 50) = 50/65
        // class 1: TP 10, row 15, column 12 -> 10 / 17
        // class 2: TP 20, row 26, column 24 -> 20 / 30
        // class 3: never present nor predicted -> no IoU, left out of the mean
        double[] iou = cm.iou();
        assertEquals(50.0 / 65, iou[0], 1e-12);
        assertEquals(10.0 / 17, iou[1], 1e-12);
        assertEquals(20.0 / 30, iou[2], 1e-12);
        assertTrue(Double.isNaN(iou[3]));
        assertEquals((50.0 / 65 + 10.0 / 17 + 20.0 / 30) / 3, cm.meanIoU(), 1e-12);
        assertEquals(80.0 / 96, cm.pixelAccuracy(), 1e-12);
        assertEquals(96, cm.total());
    }

    @Test
    void classOnlyPredictedCountsAsZero() {
        ConfusionMatrix cm = new ConfusionMatrix(3);
        cm.add(new long[] {0, 0, 0, 1}, new long[] {0, 0, 2, 1});
        double[] iou = cm.iou();
        assertEquals(2.0 / 3, iou[0], 1e-12);
        assertEquals(1.0, iou[1], 1e-12);
        assertEquals(0.0, iou[2], 0.0);
        assertEquals((2.0 / 3 + 1 + 0) / 3, cm.meanIoU(), 1e-12);
    }

    @Test
    void tensorsAccumulateLikeArrays() {
        TorchRuntime.init();
        ConfusionMatrix fromTensors = new ConfusionMatrix(5);
        ConfusionMatrix fromArrays = new ConfusionMatrix(5);
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            Tensor t = torch.randint(5, new long[] {2, 6, 7});
            Tensor p = torch.randint(5, new long[] {2, 6, 7});
            fromTensors.add(t, p);
            fromArrays.add(org.dreamteacher.torch.CpuTensors.toLongs(t), org.dreamteacher.torch.CpuTensors.toLongs(p));
        }
        assertEquals(84, fromTensors.total());
        for (int i = 0; i < 5; i++) assertArrayEquals(fromArrays.toArray()[i], fromTensors.toArray()[i]);
    }

    @Test
    void rejectsBadInput() {
        ConfusionMatrix cm = new ConfusionMatrix(3);
        assertThrows(IllegalArgumentException.class, () -> cm.add(new long[] {0, 3}, new long[] {0, 1}));
        assertThrows(IllegalArgumentException.class, () -> cm.add(new long[] {0}, new long[] {-1}));
        assertThrows(IllegalArgumentException.class, () -> cm.add(new long[] {0, 1}, new long[] {0}));
        assertThrows(IllegalArgumentException.class, () -> ConfusionMatrix.of(new long[][] {{1, 2}, {3}}));
        assertEquals(0, cm.total(), "a rejected batch adds nothing");
        assertTrue(Double.isNaN(cm.meanIoU()));
    }
}
