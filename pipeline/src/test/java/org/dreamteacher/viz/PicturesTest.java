package org.dreamteacher.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.FashionScenes;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.data.SegmentationDataset;
import org.dreamteacher.torch.CpuTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PNG pictures and charts decode with the right sizes; PCA maps separate known components. */
class PicturesTest {
    @TempDir
    Path dir;

    private static BufferedImage read(Path png) throws IOException {
        assertTrue(Files.isRegularFile(png), png + " exists");
        BufferedImage img = ImageIO.read(png.toFile());
        assertTrue(img != null, png + " decodes");
        return img;
    }

    @Test
    void gridsAndOverlays() throws IOException {
        FashionMnist fm = FashionMnist.embeddedSubset();
        SegmentationDataset scenes = new FashionScenes(fm.test(), 3).generate(4);
        try (PointerScope scope = new PointerScope()) {
            Tensor x = fm.train().toTensor(new int[] {0, 1, 2, 3, 4});
            Path grid = dir.resolve("out/grid.png");
            Pictures.saveGrid(grid, x, 3, 2);
            BufferedImage g = read(grid);
            assertEquals(3 * (28 * 2 + 2) + 2, g.getWidth());
            assertEquals(2 * (28 * 2 + 2) + 2, g.getHeight());
            float[] v = CpuTensors.toFloats(x);
            int expected = Pictures.toByte(v[10 * 28 + 14]);
            assertEquals(expected, g.getRGB(2 + 14 * 2, 2 + 10 * 2) & 0xFF);

            Tensor rgb = CpuTensors.floats(new float[2 * 3 * 4 * 5], 2, 3, 4, 5);
            Pictures.saveGrid(dir.resolve("rgb.png"), rgb, 8, 1);
            assertEquals(2 * (5 + 2) + 2, read(dir.resolve("rgb.png")).getWidth());

            int[] idx = {0, 1, 2, 3};
            Tensor images = scenes.toTensor(idx), truth = scenes.labelsTensor(idx);
            Path overlays = dir.resolve("overlay.png");
            Pictures.saveOverlays(overlays, images, List.of(truth, truth), 2);
            BufferedImage o = read(overlays);
            assertEquals(3 * (64 * 2 + 2) + 2, o.getWidth());
            assertEquals(4 * (64 * 2 + 2) + 2, o.getHeight());
            BufferedImage single = Pictures.overlay(images.select(0, 0), truth.select(0, 0), 1, 0.55);
            int[] map = scenes.labelMap(0);
            for (int k = 0; k < map.length; k++) {
                int p = single.getRGB(k % 64, k / 64) & 0xFFFFFF;
                boolean grey = (p >> 16 & 0xFF) == (p & 0xFF) && (p >> 8 & 0xFF) == (p & 0xFF);
                if (map[k] == 0) assertTrue(grey, "background stays grey");
            }
        }
    }

    /** Four regions, each a different point in 8-D feature space: the map must show four distinct colours. */
    @Test
    void pcaMapSeparatesKnownComponents() throws IOException {
        int c = 8, h = 6, w = 6;
        float[][] dirs = new float[4][c];
        SeededRandom rng = new SeededRandom(1);
        for (float[] d : dirs) for (int k = 0; k < c; k++) d[k] = (float) (rng.nextDouble() * 4 - 2);
        float[] f = new float[c * h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int region = (y < h / 2 ? 0 : 2) + (x < w / 2 ? 0 : 1);
                for (int k = 0; k < c; k++) f[(k * h + y) * w + x] = dirs[region][k];
            }
        try (PointerScope scope = new PointerScope()) {
            Tensor feature = CpuTensors.floats(f, c, h, w);
            Path png = dir.resolve("pca.png");
            Pictures.savePca(png, feature, 60, 60);
            BufferedImage img = read(png);
            assertEquals(60, img.getWidth());
            assertEquals(60, img.getHeight());
            int[] colours = {img.getRGB(5, 5), img.getRGB(55, 5), img.getRGB(5, 55), img.getRGB(55, 55)};
            for (int a = 0; a < 4; a++) {
                for (int b = a + 1; b < 4; b++) {
                    int ca = colours[a], cb = colours[b];
                    int dist = Math.abs((ca >> 16 & 0xFF) - (cb >> 16 & 0xFF)) + Math.abs((ca >> 8 & 0xFF) - (cb >> 8 & 0xFF))
                            + Math.abs((ca & 0xFF) - (cb & 0xFF));
                    assertTrue(dist > 100, "regions " + a + " and " + b + " too close: " + Integer.toHexString(ca) + " vs " + Integer.toHexString(cb));
                }
            }
            assertEquals(img.getRGB(1, 1), img.getRGB(28, 28), "uniform within a region");
            // Deterministic, and the same for a float64 copy of the feature.
            BufferedImage again = Pictures.pcaRgb(feature.to(org.bytedeco.pytorch.global.torch.ScalarType.Double), 60, 60);
            for (int y = 0; y < 60; y += 7) for (int x = 0; x < 60; x += 7) assertEquals(img.getRGB(x, y), again.getRGB(x, y));
            // Fewer than three channels still work.
            BufferedImage two = Pictures.pcaRgb(feature.narrow(0, 0, 2), 6, 6);
            assertEquals(0, two.getRGB(0, 0) & 0xFF, "no third component: blue is 0");

            BufferedImage side = Pictures.sideBySide(List.of(img, again), List.of("teacher", "student"));
            Pictures.save(dir.resolve("side.png"), side);
            BufferedImage s = read(dir.resolve("side.png"));
            assertEquals(2 + 2 * (60 + 2), s.getWidth());
            assertEquals(60 + 20 + 4, s.getHeight());
        }
    }

    @Test
    void chartsAreWritten() throws IOException {
        Map<String, double[][]> loss = new LinkedHashMap<>();
        double[][] curve = new double[200][];
        for (int i = 0; i < 200; i++) curve[i] = new double[] {i, Math.exp(-i / 50.0) + 0.05 * Math.sin(i)};
        curve[100] = new double[] {100, Double.NaN};
        loss.put("train", curve);
        loss.put("val", new double[][] {{0, 1.1}, {50, 0.6}, {100, 0.4}, {150, 0.35}, {199, 0.3}});
        Path lines = dir.resolve("charts/loss.png");
        Plots.lineChart(lines, "Distillation loss", "step", "loss", loss);
        BufferedImage l = read(lines);
        assertEquals(900, l.getWidth());
        assertEquals(560, l.getHeight());

        Map<String, double[][]> acc = new LinkedHashMap<>();
        acc.put("DreamTeacher", new double[][] {{0.01, 78.1, 1.6}, {0.1, 85.0, 0.4}, {1.0, 91.2, 0.2}});
        acc.put("random init", new double[][] {{0.01, 79.5, 0.5}, {0.1, 84.0, 0.7}, {1.0, 91.0, 0.1}});
        Plots.lineChart(dir.resolve("acc.png"), "Accuracy vs labels", "label fraction", "test accuracy (%)", acc, true);
        assertEquals(900, read(dir.resolve("acc.png")).getWidth());

        Map<String, double[][]> bars = new LinkedHashMap<>();
        bars.put("DreamTeacher", new double[][] {{78.1, 1.6}, {85.0, 0.4}, {91.2, 0.2}});
        bars.put("random init", new double[][] {{79.5}, {84.0}, {91.0}});
        Plots.barChart(dir.resolve("bars.png"), "Accuracy", "labels", "accuracy (%)", List.of("1%", "10%", "100%"), bars);
        BufferedImage b = read(dir.resolve("bars.png"));
        assertEquals(560, b.getHeight());
        // Something other than white and grid was drawn in the plot area.
        int coloured = 0;
        for (int y = 60; y < 480; y += 3) for (int x = 100; x < 860; x += 3) {
            int p = b.getRGB(x, y) & 0xFFFFFF;
            if (p == 0x1F77B4 || p == 0xFF7F0E) coloured++;
        }
        assertTrue(coloured > 100, "bars drawn: " + coloured);
        assertNotEquals(0, Files.size(dir.resolve("bars.png")));
    }
}
