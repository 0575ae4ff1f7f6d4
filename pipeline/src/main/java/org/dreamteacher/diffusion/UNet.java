package org.dreamteacher.diffusion;

import static org.dreamteacher.nn.Layers.s;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.EmbeddingImpl;
import org.bytedeco.pytorch.GroupNormImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.FeatureTeacher;
import org.dreamteacher.nn.Layers;
import org.dreamteacher.torch.TorchRuntime;

/**
 * The denoising network of the diffusion teacher, laid out as ADM's U-Net (guided-diffusion) so that the
 * paper's choice of features, decoder {@code output_blocks} by index, carries over: a timestep embedding
 * (sinusoidal, then an MLP) conditions every residual block through a GroupNorm scale and shift, optional
 * self-attention runs at chosen resolutions, and each decoder block concatenates the matching encoder
 * activation. Output convolutions of residual blocks, attention projections and the final layer start at
 * zero, as in ADM, so that a fresh model is the identity on its skip paths and predicts zero noise.
 *
 * <p>As a {@link FeatureTeacher} it returns the outputs of the configured decoder blocks ({@link
 * UNetConfig#taps()}), which is what DreamTeacher distils. {@link UNetConfig#decoderBlocks()} lists every
 * block's channels and stride without building or running the network.
 *
 * <p>Inputs: images (N, inChannels, H, W) with H and W multiples of 2^(levels-1) (normally the config's
 * {@code imageSize}), timesteps (N) of any numeric type, and for class-conditional models labels (N) in
 * [0, numClasses).
 */
public final class UNet extends ConfiguredModule implements FeatureTeacher {
    static {
        TorchRuntime.init();
    }

    /** The predicted noise and the requested decoder features of one forward pass. */
    public record Output(Tensor output, List<FeatureMap> features) {}

    private final UNetConfig config;
    private final int timeDim;
    private final LinearImpl timeIn;
    private final LinearImpl timeOut;
    private final EmbeddingImpl labelEmbedding;
    private final Conv2dImpl stem;
    private final List<Block> encoder = new ArrayList<>();
    private final ResBlock middle1;
    private final AttentionBlock middleAttention;
    private final ResBlock middle2;
    private final List<Block> decoder = new ArrayList<>();
    private final GroupNormImpl outNorm;
    private final Conv2dImpl outConv;

    public UNet(UNetConfig config) {
        super();
        this.config = config;
        UNetConfig.Layout layout = config.layout();
        int base = config.baseChannels();
        timeDim = 4 * base;
        timeIn = register_module("time_embed_0", Layers.linear(base, timeDim));
        timeOut = register_module("time_embed_2", Layers.linear(timeDim, timeDim));
        labelEmbedding = config.numClasses() > 0 ? register_module("label_emb", new EmbeddingImpl(config.numClasses(), timeDim)) : null;
        stem = register_module("input_blocks_0", Layers.conv(config.inChannels(), layout.stemChannels(), 3, 1, 1, true));
        List<UNetConfig.BlockSpec> enc = layout.encoder();
        for (int i = 0; i < enc.size(); i++)
            encoder.add(register_module("input_blocks_" + (i + 1), new Block(enc.get(i), config, timeDim)));
        int mid = layout.middleChannels();
        middle1 = register_module("middle_block_0", new ResBlock(mid, mid, timeDim, config));
        middleAttention = config.middleAttention()
                ? register_module("middle_block_1", new AttentionBlock(mid, config.headsFor(mid), config.normGroups()))
                : null;
        middle2 = register_module("middle_block_2", new ResBlock(mid, mid, timeDim, config));
        List<UNetConfig.BlockSpec> dec = layout.decoder();
        for (int i = 0; i < dec.size(); i++)
            decoder.add(register_module("output_blocks_" + i, new Block(dec.get(i), config, timeDim)));
        int last = dec.get(dec.size() - 1).outChannels();
        outNorm = register_module("out_norm", Layers.groupNorm(config.normGroups(), last));
        outConv = register_module("out_conv", Layers.conv(last, config.outChannels(), 3, 1, 1, true));
        zeroInit(outConv);
    }

    @Override
    public UNetConfig config() {
        return config;
    }

    @Override
    public long inChannels() {
        return config.inChannels();
    }

    /** Predicted noise for an unconditional model. */
    public Tensor forward(Tensor x, Tensor t) {
        return forward(x, t, null);
    }

    /** Predicted noise; {@code labels} must be given for a class-conditional model and null otherwise. */
    public Tensor forward(Tensor x, Tensor t, Tensor labels) {
        return run(x, t, labels, List.of(), true).output();
    }

    /**
     * The configured taps, largest stride first, from one forward pass that stops after the last tapped
     * block (the decoder blocks after it cannot change the taps). Unconditional models only; see
     * {@link #features(Tensor, Tensor, Tensor)}.
     */
    @Override
    public List<FeatureMap> features(Tensor xt, Tensor t) {
        return features(xt, t, null);
    }

    /** The configured taps for a (possibly class-conditional) model, largest stride first. */
    public List<FeatureMap> features(Tensor xt, Tensor t, Tensor labels) {
        if (config.taps().isEmpty()) throw new IllegalStateException("this U-Net's config lists no taps (UNetConfig.taps)");
        return run(xt, t, labels, config.taps(), false).features();
    }

    /** The predicted noise and the configured taps from one full forward pass. */
    public Output forwardWithFeatures(Tensor x, Tensor t, Tensor labels) {
        return run(x, t, labels, config.taps(), true);
    }

    /** The predicted noise and the given decoder blocks' outputs (largest stride first) from one forward pass. */
    public Output forwardWithFeatures(Tensor x, Tensor t, Tensor labels, List<Integer> taps) {
        return run(x, t, labels, taps, true);
    }

    /** The configured taps with their channels and strides, in the order {@link #features} returns them. */
    public List<TapInfo> tapInfos() {
        return config.tapInfos();
    }

    private Output run(Tensor x, Tensor t, Tensor labels, List<Integer> taps, boolean full) {
        checkInputs(x, t, labels);
        List<TapInfo> order = config.tapInfos(taps);
        Map<Integer, Tensor> tapped = new HashMap<>();
        int lastTap = -1;
        for (TapInfo ti : order) lastTap = Math.max(lastTap, ti.index());

        Tensor emb = timeOut.forward(torch.silu(timeIn.forward(timestepEmbedding(t, config.baseChannels()))));
        if (labelEmbedding != null) emb = emb.add(labelEmbedding.forward(labels.to(ScalarType.Long)));
        Tensor embAct = torch.silu(emb);

        List<Tensor> skips = new ArrayList<>();
        Tensor h = stem.forward(x);
        skips.add(h);
        for (Block b : encoder) {
            h = b.forward(h, embAct);
            skips.add(h);
        }
        h = middle1.forward(h, embAct);
        if (middleAttention != null) h = middleAttention.forward(h);
        h = middle2.forward(h, embAct);
        for (int i = 0; i < decoder.size(); i++) {
            h = torch.cat(new TensorVector(h, skips.remove(skips.size() - 1)), 1);
            h = decoder.get(i).forward(h, embAct);
            for (TapInfo ti : order) if (ti.index() == i) tapped.put(i, h);
            if (!full && i == lastTap) break;
        }
        Tensor out = full ? outConv.forward(torch.silu(outNorm.forward(h))) : null;
        long inputHeight = x.size(2);
        List<FeatureMap> features = new ArrayList<>();
        for (TapInfo ti : order) {
            Tensor f = tapped.get(ti.index());
            features.add(new FeatureMap(ti.name(), f, (int) (inputHeight / f.size(2))));
        }
        return new Output(out, Collections.unmodifiableList(features));
    }

    private void checkInputs(Tensor x, Tensor t, Tensor labels) {
        if (x == null || x.isNull() || !x.defined()) throw new IllegalArgumentException("UNet: input is undefined");
        if (x.dim() != 4) throw new IllegalArgumentException("UNet: input must be 4-D (N, C, H, W), got " + x.dim() + "-D");
        if (x.size(1) != config.inChannels())
            throw new IllegalArgumentException("UNet: input has " + x.size(1) + " channels, the model expects " + config.inChannels());
        long factor = 1L << (config.levels() - 1);
        if (x.size(2) % factor != 0 || x.size(3) % factor != 0 || x.size(2) == 0 || x.size(3) == 0)
            throw new IllegalArgumentException("UNet: input size " + x.size(2) + "x" + x.size(3) + " must be a positive multiple of "
                    + factor + " (2^(levels-1))");
        if (t == null || t.isNull() || !t.defined() || t.dim() != 1 || t.size(0) != x.size(0))
            throw new IllegalArgumentException("UNet: timesteps must be a 1-D tensor of length N = " + x.size(0));
        if (config.numClasses() > 0) {
            if (labels == null || labels.isNull() || !labels.defined() || labels.dim() != 1 || labels.size(0) != x.size(0))
                throw new IllegalArgumentException("UNet: this model is class-conditional (" + config.numClasses()
                        + " classes): labels must be a 1-D tensor of length N = " + x.size(0));
            if (labels.numel() > 0) {
                long lo = labels.min().item_long(), hi = labels.max().item_long();
                if (lo < 0 || hi >= config.numClasses())
                    throw new IllegalArgumentException("UNet: labels must be in [0, " + config.numClasses() + "), got values in [" + lo + ", " + hi + "]");
            }
        } else if (labels != null) {
            throw new IllegalArgumentException("UNet: labels given to an unconditional model (numClasses = 0)");
        }
    }

    /**
     * ADM's sinusoidal timestep embedding: {@code [cos(t f_i), sin(t f_i)]} with {@code f_i = 10000^(-i/half)},
     * i in [0, half), zero-padded to an odd {@code dim}. Returns (N, dim) float32.
     */
    public static Tensor timestepEmbedding(Tensor t, int dim) {
        int half = dim / 2;
        float[] freqs = new float[half];
        for (int i = 0; i < half; i++) freqs[i] = (float) Math.exp(-Math.log(10000.0) * i / half);
        Tensor args = t.to(ScalarType.Float).unsqueeze(1).mul(torch.tensor(freqs, new TensorOptions(ScalarType.Float)).unsqueeze(0));
        TensorVector parts = new TensorVector(args.cos(), args.sin());
        if (dim % 2 == 1) parts.push_back(torch.zeros(new long[] {t.size(0), 1}, new TensorOptions(ScalarType.Float)));
        return torch.cat(parts, 1);
    }

    static void zeroInit(Conv2dImpl conv) {
        try (NoGradGuard ng = new NoGradGuard()) {
            conv.weight().zero_();
            if (conv.bias() != null && !conv.bias().isNull() && conv.bias().defined()) conv.bias().zero_();
        }
    }

    /** One encoder or decoder block: a residual block (plus attention, plus upsampling) or a downsampler. */
    static final class Block extends Module {
        private final ResBlock res;
        private final AttentionBlock attention;
        private final Conv2dImpl down;
        private final Conv2dImpl up;

        Block(UNetConfig.BlockSpec spec, UNetConfig config, int timeDim) {
            super();
            if (spec.down()) {
                res = null;
                attention = null;
                down = register_module("down", Layers.conv(spec.inChannels(), spec.outChannels(), 3, 2, 1, true));
                up = null;
                return;
            }
            down = null;
            res = register_module("res", new ResBlock(spec.inChannels(), spec.outChannels(), timeDim, config));
            attention = spec.attention()
                    ? register_module("attn", new AttentionBlock(spec.outChannels(), config.headsFor(spec.outChannels()), config.normGroups()))
                    : null;
            up = spec.up() ? register_module("up", Layers.conv(spec.outChannels(), spec.outChannels(), 3, 1, 1, true)) : null;
        }

        Tensor forward(Tensor h, Tensor embAct) {
            if (down != null) return down.forward(h);
            h = res.forward(h, embAct);
            if (attention != null) h = attention.forward(h);
            if (up != null) h = up.forward(Layers.upsampleNearest(h, 2));
            return h;
        }
    }

    /** ADM's ResBlock with scale-shift norm: the timestep embedding modulates the second GroupNorm. */
    static final class ResBlock extends Module {
        private final GroupNormImpl inNorm;
        private final Conv2dImpl inConv;
        private final LinearImpl embLayer;
        private final GroupNormImpl outNorm;
        private final Conv2dImpl outConv;
        private final Conv2dImpl skip;
        private final double dropout;
        private final long outChannels;

        ResBlock(int in, int out, int timeDim, UNetConfig config) {
            super();
            outChannels = out;
            dropout = config.dropout();
            inNorm = register_module("in_norm", Layers.groupNorm(config.normGroups(), in));
            inConv = register_module("in_conv", Layers.conv(in, out, 3, 1, 1, true));
            embLayer = register_module("emb", Layers.linear(timeDim, 2L * out));
            outNorm = register_module("out_norm", Layers.groupNorm(config.normGroups(), out));
            outConv = register_module("out_conv", Layers.conv(out, out, 3, 1, 1, true));
            zeroInit(outConv);
            skip = in == out ? null : register_module("skip", Layers.conv(in, out, 1, 1, 0, true));
        }

        Tensor forward(Tensor x, Tensor embAct) {
            Tensor h = inConv.forward(torch.silu(inNorm.forward(x)));
            Tensor e = embLayer.forward(embAct).view(x.size(0), 2 * outChannels, 1, 1);
            TensorVector scaleShift = e.chunk(2, 1);
            h = outNorm.forward(h).mul(scaleShift.get(0).add(s(1))).add(scaleShift.get(1));
            h = torch.silu(h);
            if (dropout > 0) h = torch.dropout(h, dropout, is_training());
            h = outConv.forward(h);
            return (skip == null ? x : skip.forward(x)).add(h);
        }
    }

    /** Multi-head self-attention over all positions (ADM's AttentionBlock, QKV split before the heads). */
    static final class AttentionBlock extends Module {
        private final GroupNormImpl norm;
        private final Conv2dImpl qkv;
        private final Conv2dImpl proj;
        private final int heads;

        AttentionBlock(int channels, int heads, int groups) {
            super();
            this.heads = heads;
            norm = register_module("norm", Layers.groupNorm(groups, channels));
            qkv = register_module("qkv", Layers.conv(channels, 3L * channels, 1, 1, 0, true));
            proj = register_module("proj_out", Layers.conv(channels, channels, 1, 1, 0, true));
            zeroInit(proj);
        }

        Tensor forward(Tensor x) {
            long b = x.size(0), c = x.size(1), hh = x.size(2), ww = x.size(3), n = hh * ww, ch = c / heads;
            TensorVector parts = qkv.forward(norm.forward(x)).reshape(b, 3 * c, n).chunk(3, 1);
            double scale = 1.0 / Math.sqrt(Math.sqrt(ch)); // applied to q and k: more stable than dividing afterwards
            Tensor q = parts.get(0).reshape(b * heads, ch, n).mul(s(scale));
            Tensor k = parts.get(1).reshape(b * heads, ch, n).mul(s(scale));
            Tensor v = parts.get(2).reshape(b * heads, ch, n);
            Tensor w = torch.softmax(torch.bmm(q.transpose(1, 2), k), 2); // (b*heads, query, key)
            Tensor a = torch.bmm(v, w.transpose(1, 2)); // (b*heads, ch, query)
            return x.add(proj.forward(a.reshape(b, c, hh, ww)));
        }
    }
}
