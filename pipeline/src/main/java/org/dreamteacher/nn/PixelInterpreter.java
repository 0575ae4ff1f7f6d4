package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.require;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.GroupNormImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The label-guided feature interpreter I_θ: a small pixel classifier trained on the few labelled images over the
 * frozen teacher's features; its soft labels are then distilled into the student's task head. Per level a 1x1
 * conv to {@code channels}, bilinear upsampling to the output size, concatenation, a depthwise-separable conv
 * (3x3 depthwise + 1x1 pointwise), GroupNorm (32 groups, fewer when they do not divide) + SiLU, dropout, and a 1x1
 * conv to the class logits. Parameter names: proj.i, dw, pw, norm, classifier.
 *
 * <p>Train it with {@link Losses#crossEntropyDice}; keep the teacher's features detached (the teacher is frozen).
 */
public final class PixelInterpreter extends ConfiguredModule {
    private final InterpreterConfig config;
    private final List<Conv2dImpl> proj = new ArrayList<>();
    private final Conv2dImpl dw;
    private final Conv2dImpl pw;
    private final GroupNormImpl norm;
    private final Conv2dImpl classifier;
    // Java-side containers are kept reachable: a child registered only in C++ can be garbage-collected,
    // after which train()/eval() (virtual calls back into Java) fail with a NullPointerException.
    private final IndexedModules projContainer;

    PixelInterpreter(InterpreterConfig config) {
        this.config = config;
        long c = config.channels();
        IndexedModules p = projContainer = register_module("proj", new IndexedModules());
        for (long in : config.teacherChannels()) proj.add(p.add(Layers.conv(in, c, 1, 1, 0, true)));
        long cat = c * config.teacherChannels().size();
        dw = register_module("dw", Layers.conv(cat, cat, 3, 1, 1, cat, false));
        pw = register_module("pw", Layers.conv(cat, c, 1, 1, 0, false));
        norm = register_module("norm", Layers.groupNorm(32, c));
        classifier = register_module("classifier", Layers.conv(c, config.numClasses(), 1, 1, 0, true));
    }

    @Override
    public InterpreterConfig config() {
        return config;
    }

    /** Per-pixel logits (N, numClasses, outH, outW) from the teacher's feature levels (in config order). */
    public Tensor forward(List<Tensor> teacherFeatures, long outH, long outW) {
        NnSupport.checkLevels(teacherFeatures, config.teacherChannels(), "interpreter");
        require(outH > 0 && outW > 0, "interpreter: output size must be positive, got " + outH + "x" + outW);
        TensorVector parts = new TensorVector();
        for (int i = 0; i < proj.size(); i++)
            parts.push_back(NnSupport.resizeTo(proj.get(i).forward(teacherFeatures.get(i)), outH, outW));
        Tensor h = parts.size() == 1 ? parts.get(0) : torch.cat(parts, 1);
        h = torch.silu(norm.forward(pw.forward(dw.forward(h))));
        if (config.dropout() > 0) h = torch.dropout(h, config.dropout(), is_training());
        return classifier.forward(h);
    }

    /** {@link #forward(List, long, long)} on feature maps. */
    public Tensor forwardFeatures(List<FeatureMap> teacherFeatures, long outH, long outW) {
        return forward(Backbone.tensors(teacherFeatures), outH, outW);
    }

    /**
     * Image-level logits (N, numClasses) for classification: the per-pixel logits at the size of the largest
     * feature level, averaged over the pixels.
     */
    public Tensor pooled(List<Tensor> teacherFeatures) {
        NnSupport.checkLevels(teacherFeatures, config.teacherChannels(), "interpreter");
        long h = 0, w = 0;
        for (Tensor t : teacherFeatures) {
            if (t.size(2) * t.size(3) > h * w) {
                h = t.size(2);
                w = t.size(3);
            }
        }
        return forward(teacherFeatures, h, w).mean(2, 3);
    }
}
