package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.checkImage;
import static org.dreamteacher.nn.NnSupport.require;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * ConvNeXt, the paper's second backbone family: a patchify stem, four stages of depthwise-7x7 / inverted-MLP
 * blocks with layer scale, and LayerNorm + 2x2/2 conv between stages. Parameter names follow the official code
 * (downsample_layers.i.j, stages.i.j.{dwconv,norm,pwconv1,pwconv2,gamma}, norm, head). C2..C5 are the four
 * stage outputs; the final {@code norm} belongs to the classification head (pool, LayerNorm, linear).
 */
public final class ConvNeXt extends ConfiguredModule implements Backbone {
    static final double LN_EPS = 1e-6;
    private volatile ConvNeXtConfig config;
    private final List<Downsample> downsampleLayers = new ArrayList<>();
    private final List<Stage> stages = new ArrayList<>();
    private final long[] channels = new long[4];
    private LayerNorm norm;
    // Java-side containers are kept reachable: a child registered only in C++ can be garbage-collected,
    // after which train()/eval() (virtual calls back into Java) fail with a NullPointerException.
    private final IndexedModules downsampleContainer;
    private final IndexedModules stageContainer;
    private LinearImpl head;

    ConvNeXt(ConvNeXtConfig config) {
        this.config = config;
        for (int i = 0; i < 4; i++) channels[i] = config.dims().get(i);
        IndexedModules ds = downsampleContainer = register_module("downsample_layers", new IndexedModules());
        IndexedModules st = stageContainer = register_module("stages", new IndexedModules());
        int total = config.depths().stream().mapToInt(Integer::intValue).sum();
        int blockIndex = 0;
        for (int i = 0; i < 4; i++) {
            Downsample d = i == 0 ? Downsample.stem(config.inChannels(), channels[0], config.stemStride())
                    : Downsample.between(channels[i - 1], channels[i]);
            downsampleLayers.add(ds.add(d));
            Stage stage = st.add(new Stage());
            for (int j = 0; j < config.depths().get(i); j++) {
                double rate = total > 1 ? config.dropPath() * blockIndex / (total - 1) : 0.0;
                stage.add(new Block(channels[i], rate, config.layerScaleInit()));
                blockIndex++;
            }
            stages.add(stage);
        }
        if (config.numClasses() > 0) makeHead(config.numClasses());
    }

    private void makeHead(int numClasses) {
        norm = register_module("norm", new LayerNorm(channels[3], false));
        head = register_module("head", linear(channels[3], numClasses));
    }

    @Override
    public ConvNeXtConfig config() {
        return config;
    }

    @Override
    public List<FeatureMap> features(Tensor x) {
        checkImage(x, config.inChannels(), "convnext");
        int[] strides = featureStrides();
        List<FeatureMap> out = new ArrayList<>(4);
        Tensor h = x;
        for (int i = 0; i < 4; i++) {
            h = stages.get(i).forward(downsampleLayers.get(i).forward(h));
            out.add(new FeatureMap(LEVEL_NAMES.get(i), h, strides[i]));
        }
        return out;
    }

    @Override
    public long[] featureChannels() {
        return channels.clone();
    }

    @Override
    public int[] featureStrides() {
        int s = config.stemStride();
        return new int[] {s, 2 * s, 4 * s, 8 * s};
    }

    @Override
    public Tensor pooledFeatures(Tensor x) {
        return features(x).get(3).tensor().mean(2, 3);
    }

    @Override
    public Tensor classify(Tensor x) {
        return classifyFeatures(features(x));
    }

    @Override
    public Tensor classifyFeatures(List<FeatureMap> features) {
        LinearImpl h = head;
        if (h == null) throw new IllegalStateException("this convnext has no classification head (numClasses = 0)");
        return h.forward(norm.forward(features.get(3).tensor().mean(2, 3)));
    }

    @Override
    public long inChannels() {
        return config.inChannels();
    }

    @Override
    public int numClasses() {
        return config.numClasses();
    }

    @Override
    public synchronized void resetHead(int numClasses) {
        require(numClasses >= 0, "numClasses must be >= 0 (0 = no head), got " + numClasses);
        if (head != null) {
            unregister_module("head");
            unregister_module("norm");
            head = null;
            norm = null;
        }
        if (numClasses > 0) makeHead(numClasses);
        config = config.withNumClasses(numClasses);
    }

    private static final List<String> HEAD_PREFIXES = List.of("norm.", "head.");

    @Override
    public List<String> headPrefixes() {
        return HEAD_PREFIXES;
    }

    @Override
    public List<Tensor> backboneParameters() {
        return NnSupport.parameters(this, HEAD_PREFIXES, false);
    }

    @Override
    public List<Tensor> headParameters() {
        return NnSupport.parameters(this, HEAD_PREFIXES, true);
    }

    private static Conv2dImpl conv(long in, long out, long k, long stride, long padding, long groups) {
        Conv2dImpl c = Layers.conv(in, out, k, stride, padding, groups, true);
        NnSupport.truncNormal(c.weight(), 0.02);
        NnSupport.zero(c.bias());
        return c;
    }

    private static LinearImpl linear(long in, long out) {
        LinearImpl l = Layers.linear(in, out);
        NnSupport.truncNormal(l.weight(), 0.02);
        NnSupport.zero(l.bias());
        return l;
    }


    /**
     * LayerNorm over the channels, for channels-last (N, ..., C) input or, with {@code channelsFirst}, for
     * (N, C, H, W) maps (the official LayerNorm with data_format="channels_first").
     */
    static final class LayerNorm extends Module {
        private final Tensor weight;
        private final Tensor bias;
        private final long channels;
        private final boolean channelsFirst;

        LayerNorm(long channels, boolean channelsFirst) {
            this.channels = channels;
            this.channelsFirst = channelsFirst;
            // Keep our own handles: register_parameter returns a reference into the module's parameter list,
            // which moves when the list grows.
            weight = torch.ones(channels);
            bias = torch.zeros(channels);
            register_parameter("weight", weight);
            register_parameter("bias", bias);
        }

        Tensor forward(Tensor x) {
            if (!channelsFirst) return ln(x);
            return ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
        }

        private Tensor ln(Tensor x) {
            return torch.layer_norm(x, new long[] {channels}, new TensorOptional(weight), new TensorOptional(bias), LN_EPS, false);
        }
    }

    /** Stem (conv then LN, "0" and "1") or between stages (LN then 2x2/2 conv). */
    private static final class Downsample extends Module {
        private LayerNorm normBefore;
        private LayerNorm normAfter;
        private Conv2dImpl conv;

        static Downsample stem(long in, long out, int stride) {
            Downsample d = new Downsample();
            d.conv = d.register_module("0", stride == 1 ? conv(in, out, 3, 1, 1, 1) : conv(in, out, stride, stride, 0, 1));
            d.normAfter = d.register_module("1", new LayerNorm(out, true));
            return d;
        }

        static Downsample between(long in, long out) {
            Downsample d = new Downsample();
            d.normBefore = d.register_module("0", new LayerNorm(in, true));
            d.conv = d.register_module("1", conv(in, out, 2, 2, 0, 1));
            return d;
        }

        Tensor forward(Tensor x) {
            if (normBefore != null) x = normBefore.forward(x);
            x = conv.forward(x);
            return normAfter != null ? normAfter.forward(x) : x;
        }
    }

    private static final class Block extends Module implements Stage.Block {
        private final Conv2dImpl dwconv;
        private final LayerNorm norm;
        private final LinearImpl pwconv1;
        private final LinearImpl pwconv2;
        private final Tensor gamma;
        private final double dropPath;

        Block(long dim, double dropPath, double layerScaleInit) {
            this.dropPath = dropPath;
            dwconv = register_module("dwconv", conv(dim, dim, 7, 1, 3, dim));
            norm = register_module("norm", new LayerNorm(dim, false));
            pwconv1 = register_module("pwconv1", linear(dim, 4 * dim));
            pwconv2 = register_module("pwconv2", linear(4 * dim, dim));
            gamma = layerScaleInit > 0 ? torch.full(new long[] {dim}, Layers.s(layerScaleInit)) : null;
            if (gamma != null) register_parameter("gamma", gamma);
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor h = dwconv.forward(x).permute(0, 2, 3, 1);
            h = pwconv2.forward(torch.gelu(pwconv1.forward(norm.forward(h))));
            if (gamma != null) h = h.mul(gamma);
            h = h.permute(0, 3, 1, 2);
            if (dropPath > 0 && is_training()) {
                double keep = 1.0 - dropPath;
                Tensor mask = torch.rand(new long[] {h.size(0), 1, 1, 1}, new TensorOptions(h.scalar_type()))
                        .add(Layers.s(keep)).floor_().div(Layers.s(keep));
                h = h.mul(mask);
            }
            return x.add(h);
        }
    }
}
