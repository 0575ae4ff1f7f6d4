package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.require;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Turns multi-scale backbone features into per-pixel class logits for segmentation fine-tuning, kept light so
 * that the comparison between pretrainings measures the backbone rather than the head. Per level a 1x1 conv,
 * bilinear resize to the finest level, sum or concatenation, a 3x3 conv + BN + ReLU, a 1x1 conv to the logits,
 * and a bilinear resize to the requested output (input image) size. Parameter names: lateral.i, fuse,
 * classifier.
 */
public final class SegmentationHead extends ConfiguredModule {
    private final SegmentationHeadConfig config;
    private final List<Conv2dImpl> lateral = new ArrayList<>();
    private final ConvBnRelu fuse;
    private final Conv2dImpl classifier;
    // Java-side containers are kept reachable: a child registered only in C++ can be garbage-collected,
    // after which train()/eval() (virtual calls back into Java) fail with a NullPointerException.
    private final IndexedModules lateralContainer;

    SegmentationHead(SegmentationHeadConfig config) {
        this.config = config;
        long c = config.channels();
        IndexedModules lat = lateralContainer = register_module("lateral", new IndexedModules());
        for (long in : config.inChannels()) lateral.add(lat.add(Layers.conv(in, c, 1, 1, 0, true)));
        long fused = "concat".equals(config.fuse()) ? c * config.inChannels().size() : c;
        fuse = register_module("fuse", new ConvBnRelu(fused, c, 3));
        classifier = register_module("classifier", Layers.conv(c, config.numClasses(), 1, 1, 0, true));
    }

    @Override
    public SegmentationHeadConfig config() {
        return config;
    }

    /** Logits (N, numClasses, outH, outW) from the feature levels (in config order, any order of sizes). */
    public Tensor forward(List<Tensor> features, long outH, long outW) {
        NnSupport.checkLevels(features, config.inChannels(), "seghead");
        require(outH > 0 && outW > 0, "seghead: output size must be positive, got " + outH + "x" + outW);
        long h = 0, w = 0;
        for (Tensor t : features) {
            if (t.size(2) * t.size(3) > h * w) {
                h = t.size(2);
                w = t.size(3);
            }
        }
        Tensor fused = null;
        TensorVector parts = new TensorVector();
        for (int i = 0; i < lateral.size(); i++) {
            Tensor l = NnSupport.resizeTo(lateral.get(i).forward(features.get(i)), h, w);
            if ("concat".equals(config.fuse())) parts.push_back(l);
            else fused = fused == null ? l : fused.add(l);
        }
        if ("concat".equals(config.fuse())) fused = parts.size() == 1 ? parts.get(0) : torch.cat(parts, 1);
        Tensor logits = classifier.forward(fuse.forward(fused));
        return NnSupport.resizeTo(logits, outH, outW);
    }

    /** {@link #forward(List, long, long)} on feature maps (e.g. straight from {@link Backbone#features}). */
    public Tensor forwardFeatures(List<FeatureMap> features, long outH, long outW) {
        return forward(Backbone.tensors(features), outH, outW);
    }
}
