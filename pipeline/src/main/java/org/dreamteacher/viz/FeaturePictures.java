package org.dreamteacher.viz;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.viz.Pictures;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.FeatureRegressor;
import org.dreamteacher.nn.FeatureTeacher;

/**
 * What distillation learned, as pictures: for a few images, each teacher tap next to the student's regressed
 * feature of the same stride, both shown as their first three principal components in RGB.
 */
public final class FeaturePictures {
    private FeaturePictures() {}

    /**
     * One row per image: the image, then for each paired tap the teacher's feature and the student's regression
     * of it. Tap {@code teacherTaps[k]} is regressed by the regressor's output {@code k}, from backbone level
     * {@code backboneLevels[k]} (0 for C2), as a distillation's pairing says. Runs without gradients, in eval mode.
     */
    public static void write(Path png, FeatureTeacher teacher, NoiseSchedule schedule, int timestep, ConfiguredModule backboneModule,
            FeatureRegressor regressor, String[] teacherTaps, int[] backboneLevels, ImageDataset data, int count, long seed) throws IOException {
        if (teacherTaps.length != backboneLevels.length)
            throw new IllegalArgumentException(teacherTaps.length + " taps but " + backboneLevels.length + " backbone levels");
        Backbone backbone = (Backbone) backboneModule;
        int n = Math.min(count, data.size());
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = (int) ((long) i * data.size() / n);
        int side = Math.max(96, data.height() * 4);
        List<BufferedImage> rows = new ArrayList<>();
        boolean backboneTraining = backboneModule.is_training(), regressorTraining = regressor.is_training();
        backboneModule.eval();
        regressor.eval();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor x = data.toTensor(idx);
            List<FeatureMap> maps = GaussianDiffusion.encode(teacher, schedule, x, timestep, new Noise(seed));
            List<FeatureMap> feats = backbone.features(x);
            List<Tensor> predicted = regressor.forwardFeatures(feats);
            for (int i = 0; i < n; i++) {
                List<BufferedImage> panels = new ArrayList<>();
                List<String> captions = new ArrayList<>();
                panels.add(Pictures.grid(x.narrow(0, i, 1), 1, Math.max(1, side / data.height())));
                captions.add("image");
                for (int k = 0; k < teacherTaps.length; k++) {
                    Tensor t = tap(maps, teacherTaps[k]).select(0, i);
                    panels.add(Pictures.pcaRgb(t, side, side));
                    captions.add("teacher " + teacherTaps[k]);
                    panels.add(Pictures.pcaRgb(predicted.get(k).select(0, i), side, side));
                    captions.add("student c" + (backboneLevels[k] + 2));
                }
                rows.add(Pictures.sideBySide(panels, captions));
            }
        } finally {
            backboneModule.train(backboneTraining);
            regressor.train(regressorTraining);
        }
        Pictures.save(png, stack(rows));
    }

    private static Tensor tap(List<FeatureMap> maps, String name) {
        for (FeatureMap m : maps) if (m.name().equals(name)) return m.tensor();
        throw new IllegalStateException("the teacher has no tap named " + name);
    }

    /** Rows one under the other. */
    private static BufferedImage stack(List<BufferedImage> rows) {
        int w = 0, h = 0;
        for (BufferedImage r : rows) {
            w = Math.max(w, r.getWidth());
            h += r.getHeight();
        }
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setColor(new Color(48, 48, 48));
            g.fillRect(0, 0, w, h);
            int y = 0;
            for (BufferedImage r : rows) {
                g.drawImage(r, 0, y, null);
                y += r.getHeight();
            }
        } finally {
            g.dispose();
        }
        return out;
    }
}
