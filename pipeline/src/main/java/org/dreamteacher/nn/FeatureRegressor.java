package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.require;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Regresses the teacher's features from the backbone's, the head that feature distillation trains on top of the
 * student. As in the paper (and UPerNet): a pyramid pooling module on the coarsest level serves as that level's
 * lateral; every finer level gets a lateral 1x1 conv + BN + ReLU; a top-down path adds each coarser map,
 * bilinearly resized to the finer lateral's size (so odd sizes work), then every output level gets a 3x3 conv +
 * BN + ReLU and a 1x1 conv (with bias) to its teacher's channel count.
 *
 * <p>It reads every level it is configured with, so a level that no teacher feature is compared with (C5 when the
 * teacher has no tap at its stride) still feeds the top-down path and is trained through it. Levels finer than
 * the finest output level would feed nothing and get no lateral.
 *
 * <p>Levels are given <b>finest first</b> (C2, C3, ...), the order {@link Backbone#features} produces; outputs
 * come in the order of {@link FeatureRegressorConfig#outputLevels()}, each of its input level's size. Parameter
 * names: lateral.i (level i), ppm.stages.b, ppm.bottleneck, smooth.k, out.k (output k).
 *
 * <p>The PPM normalises pooled 1x1 maps with BatchNorm, which needs at least 2 samples per batch in training mode.
 */
public final class FeatureRegressor extends ConfiguredModule {
    private final FeatureRegressorConfig config;
    private final List<ConvBnRelu> laterals = new ArrayList<>();
    private final Ppm ppm;
    private final List<ConvBnRelu> smooth = new ArrayList<>();
    private final List<Conv2dImpl> out = new ArrayList<>();
    // Java-side containers are kept reachable: a child registered only in C++ can be garbage-collected,
    // after which train()/eval() (virtual calls back into Java) fail with a NullPointerException.
    private final List<Module> containers = new ArrayList<>();

    FeatureRegressor(FeatureRegressorConfig config) {
        this.config = config;
        int levels = config.levels();
        long c = config.channels();
        IndexedModules lat = register_module("lateral", new IndexedModules());
        containers.add(lat);
        // lateral.i keeps its level's index: levels below the finest output have none, so their slots stay empty
        for (int i = 0; i < levels - 1; i++) {
            laterals.add(i < config.finestOutput() ? null : lat.add(i, new ConvBnRelu(config.backboneChannels().get(i), c, 1)));
        }
        ppm = register_module("ppm", new Ppm(config.backboneChannels().get(levels - 1), c, config.ppmBins()));
        IndexedModules sm = register_module("smooth", new IndexedModules());
        IndexedModules o = register_module("out", new IndexedModules());
        containers.add(sm);
        containers.add(o);
        for (int k = 0; k < config.outputLevels().size(); k++) {
            smooth.add(sm.add(new ConvBnRelu(c, c, 3)));
            out.add(o.add(Layers.conv(c, config.teacherChannels().get(k), 1, 1, 0, true)));
        }
    }

    @Override
    public FeatureRegressorConfig config() {
        return config;
    }

    /**
     * One regressed map per output level ({@link FeatureRegressorConfig#outputLevels()}), each of its input level's
     * size, from every level the regressor reads (finest first).
     */
    public List<Tensor> forward(List<Tensor> backboneFeatures) {
        NnSupport.checkLevels(backboneFeatures, config.backboneChannels(), "regressor");
        int levels = config.levels();
        require(!is_training() || backboneFeatures.get(0).size(0) > 1,
                "regressor: a batch of 1 cannot be trained (the PPM's BatchNorm sees one value per channel); use >= 2 samples or eval mode");
        Tensor[] td = new Tensor[levels];
        td[levels - 1] = ppm.forward(backboneFeatures.get(levels - 1));
        for (int i = levels - 2; i >= config.finestOutput(); i--) {
            Tensor l = laterals.get(i).forward(backboneFeatures.get(i));
            td[i] = l.add(NnSupport.resizeTo(td[i + 1], l.size(2), l.size(3)));
        }
        List<Integer> outputs = config.outputLevels();
        List<Tensor> result = new ArrayList<>(outputs.size());
        for (int k = 0; k < outputs.size(); k++) result.add(out.get(k).forward(smooth.get(k).forward(td[outputs.get(k)])));
        return result;
    }

    /** {@link #forward(List)} on feature maps (e.g. straight from {@link Backbone#features}). */
    public List<Tensor> forwardFeatures(List<FeatureMap> backboneFeatures) {
        return forward(Backbone.tensors(backboneFeatures));
    }


    /** PSPNet's pyramid pooling module: pooled branches, upsampled and concatenated with the input, then 3x3. */
    private static final class Ppm extends Module {
        private final List<Integer> bins;
        private final List<ConvBnRelu> stages = new ArrayList<>();
        private final ConvBnRelu bottleneck;
        private final IndexedModules stageContainer;

        Ppm(long in, long channels, List<Integer> bins) {
            this.bins = bins;
            IndexedModules st = stageContainer = register_module("stages", new IndexedModules());
            for (int ignored : bins) stages.add(st.add(new ConvBnRelu(in, channels, 1)));
            bottleneck = register_module("bottleneck", new ConvBnRelu(in + bins.size() * channels, channels, 3));
        }

        Tensor forward(Tensor x) {
            long h = x.size(2), w = x.size(3);
            TensorVector parts = new TensorVector();
            parts.push_back(x);
            for (int b = 0; b < bins.size(); b++) {
                Tensor pooled = torch.adaptive_avg_pool2d(x, bins.get(b), bins.get(b));
                parts.push_back(Layers.resizeBilinear(stages.get(b).forward(pooled), h, w));
            }
            return bottleneck.forward(torch.cat(parts, 1));
        }
    }
}
