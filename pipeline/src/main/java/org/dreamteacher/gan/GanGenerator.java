package org.dreamteacher.gan;

import static org.dreamteacher.nn.Layers.s;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.Layers;
import org.dreamteacher.torch.TorchRuntime;

/**
 * A generator of the StyleGAN2 family, small enough to train on a CPU: a mapping network turns a normalised
 * latent z into a style w; synthesis starts from a learned constant 4x4 map, and each block doubles the
 * resolution (bilinear) and applies two 3x3 convolutions whose weights are modulated per sample by an affine
 * function of w and then demodulated (each output channel's effective weights scaled to unit norm), adds
 * per-pixel noise with a learned strength per layer, and draws its contribution to the image with a modulated
 * 1x1 convolution (toRGB); the contributions of all resolutions are upsampled and summed (StyleGAN2's skip
 * generator).
 *
 * <p>As in StyleGAN2, every weight has an equalised learning rate ({@code Equalized}) and the mapping network a
 * learning-rate multiplier of 0.01. Differences that keep the code small: bilinear instead of FIR-filtered
 * resampling, no style mixing, no path-length regulariser.
 * The modulated convolutions run as StyleGAN2's non-fused variant: the input is scaled by the style, one shared
 * convolution runs, and its output is scaled by the demodulation coefficients. That is the same as convolving
 * each sample with its own weights, and it runs through the project's guarded convolutions ({@code Layers.conv}),
 * which a grouped convolution over the batch could not (its shape would change with the batch size and it cannot
 * be padded).
 *
 * <p>Taps: every synthesis block's output, largest stride first (see {@link GanConfig#taps()}), with strides
 * relative to the canvas the generator draws on. {@link #forward} returns raw canvas images as the discriminator
 * sees them; {@link #sample} returns them clamped to [-1, 1] and cropped to the training image size.
 */
public final class GanGenerator extends ConfiguredModule {
    static {
        TorchRuntime.init();
    }

    private static final double GAIN = Math.sqrt(2.0);
    /** The mapping network's learning-rate multiplier (StyleGAN2's). */
    static final double MAPPING_LR = 0.01;

    /** The generated canvas images (raw) and every synthesis block's output. */
    public record Output(Tensor image, List<FeatureMap> features) {}

    private final GanConfig config;
    private final List<Equalized.Linear> mapping = new ArrayList<>();
    private final Tensor constant;
    private final List<SynthesisBlock> blocks = new ArrayList<>();

    public GanGenerator(GanConfig config) {
        super();
        this.config = config;
        int in = config.zDim();
        for (int i = 0; i < config.mappingLayers(); i++) {
            mapping.add(register_module("mapping_" + i, new Equalized.Linear(in, config.wDim(), 0, MAPPING_LR)));
            in = config.wDim();
        }
        List<Integer> widths = config.widths();
        // Our own handle, as ConvNeXt's LayerNorm keeps its: the module's list may move when it grows.
        constant = torch.randn(1, widths.get(0), 4, 4);
        register_parameter("constant", constant);
        for (int i = 0; i < widths.size(); i++)
            blocks.add(register_module("block_" + i, new SynthesisBlock(i == 0 ? 0 : widths.get(i - 1), widths.get(i), config)));
    }

    @Override
    public GanConfig config() {
        return config;
    }

    /** A batch of latents z, standard normal, from libtorch's global generator. */
    public Tensor latents(long n) {
        return torch.randn(n, config.zDim());
    }

    /** The mapping network: z normalised to unit second moment, then linear layers with leaky ReLU. */
    public Tensor mapping(Tensor z) {
        checkLatents(z);
        Tensor x = z.mul(z.square().mean(new long[] {1}, true, new ScalarTypeOptional()).add(s(1e-8)).rsqrt());
        for (Equalized.Linear l : mapping) x = act(l.forward(x));
        return x;
    }

    /** Raw canvas images (N, channels, canvas, canvas) for latents z (N, zDim): what the discriminator judges. */
    public Tensor forward(Tensor z) {
        return run(z, true).image();
    }

    /** The images and every synthesis block's output, largest stride first, from one pass. */
    public Output synthesize(Tensor z) {
        return run(z, true);
    }

    /** Every synthesis block's output, largest stride first; the image itself is not drawn. */
    public List<FeatureMap> features(Tensor z) {
        return run(z, false).features();
    }

    /** Images for display or distillation: clamped to [-1, 1] and cropped to the training image size. */
    public Tensor sample(Tensor z) {
        return crop(forward(z).clamp(new org.bytedeco.pytorch.ScalarOptional(s(-1)), new org.bytedeco.pytorch.ScalarOptional(s(1))));
    }

    /** The centre {@code imageSize} pixels of canvas images (the inverse of {@link #padToCanvas}). */
    public Tensor crop(Tensor canvasImages) {
        int off = (config.canvasSize() - config.imageSize()) / 2;
        if (off == 0 && config.canvasSize() == config.imageSize()) return canvasImages;
        return canvasImages.narrow(2, off, config.imageSize()).narrow(3, off, config.imageSize());
    }

    /** Training images padded with -1 (black) to the canvas, centred; as they are when they already fill it. */
    public static Tensor padToCanvas(Tensor images, int canvas) {
        long h = images.size(2), w = images.size(3);
        if (h == canvas && w == canvas) return images;
        if (h > canvas || w > canvas) throw new IllegalArgumentException("images of " + h + "x" + w + " do not fit a " + canvas + " px canvas");
        long top = (canvas - h) / 2, left = (canvas - w) / 2;
        return torch.constant_pad_nd(images, new long[] {left, canvas - w - left, top, canvas - h - top}, new Scalar(-1.0));
    }

    /**
     * The images and every synthesis block's output for styles w (N, wDim) given directly, skipping the mapping
     * network: what inverting a real image optimises ({@link GanInversion}).
     */
    public Output synthesizeStyles(Tensor w) {
        if (w == null || w.isNull() || !w.defined() || w.dim() != 2 || w.size(1) != config.wDim() || w.size(0) < 1)
            throw new IllegalArgumentException("GanGenerator: styles must be (N, " + config.wDim() + ")");
        return synthesis(w, true);
    }

    private Output run(Tensor z, boolean full) {
        return synthesis(mapping(z), full);
    }

    private Output synthesis(Tensor w, boolean full) {
        long n = w.size(0);
        Tensor x = constant.expand(n, -1, -1, -1);
        Tensor img = null;
        List<FeatureMap> features = new ArrayList<>();
        int canvas = config.canvasSize();
        for (SynthesisBlock b : blocks) {
            x = b.forward(x, w);
            features.add(new FeatureMap("b" + x.size(2), x, (int) (canvas / x.size(2))));
            if (full) {
                Tensor rgb = b.toRgb.forward(x, w);
                img = img == null ? rgb : Layers.resizeBilinear(img, x.size(2), x.size(3)).add(rgb);
            }
        }
        return new Output(img, Collections.unmodifiableList(features));
    }

    private void checkLatents(Tensor z) {
        if (z == null || z.isNull() || !z.defined()) throw new IllegalArgumentException("GanGenerator: latents are undefined");
        if (z.dim() != 2 || z.size(1) != config.zDim() || z.size(0) < 1)
            throw new IllegalArgumentException("GanGenerator: latents must be (N, " + config.zDim() + "), got " + java.util.Arrays.toString(z.sizes().vec().get()));
    }

    /** Leaky ReLU (slope 0.2) scaled by sqrt(2), which keeps the activations' scale, as StyleGAN2. */
    static Tensor act(Tensor x) {
        return torch.leaky_relu(x, s(0.2)).mul(s(GAIN));
    }

    /** One resolution: (upsample, conv0), conv1, toRGB. The 4x4 block has only conv1. */
    static final class SynthesisBlock extends Module {
        final ModulatedConv conv0;
        final ModulatedConv conv1;
        final ModulatedConv toRgb;

        SynthesisBlock(int in, int out, GanConfig config) {
            super();
            conv0 = in == 0 ? null : register_module("conv0", new ModulatedConv(in, out, 3, config.wDim(), true, true));
            conv1 = register_module("conv1", new ModulatedConv(out, out, 3, config.wDim(), true, true));
            toRgb = register_module("torgb", new ModulatedConv(out, config.channels(), 1, config.wDim(), false, false));
        }

        Tensor forward(Tensor x, Tensor w) {
            if (conv0 != null) x = act(conv0.forward(Layers.resizeBilinear(x, 2 * x.size(2), 2 * x.size(3)), w));
            return act(conv1.forward(x, w));
        }
    }

    /**
     * A convolution whose weights are modulated per sample by a style (an affine map of w, its bias starting at 1
     * so that a fresh layer passes its input through) and, optionally, demodulated; then noise and a bias. The
     * weights are stored standard normal ({@code Equalized}); demodulation removes their scale, and toRGB, which
     * is not demodulated, scales its styles by 1/sqrt(fan-in) instead.
     */
    static final class ModulatedConv extends Module {
        final Equalized.Linear affine;
        final Conv2dImpl conv;
        final Tensor bias;
        final Tensor noiseStrength;
        final boolean demodulate;
        final double styleGain;
        final long in;
        final long out;

        ModulatedConv(long in, long out, long kernel, int wDim, boolean demodulate, boolean noise) {
            super();
            this.in = in;
            this.out = out;
            this.demodulate = demodulate;
            styleGain = demodulate ? 1 : 1 / Math.sqrt((double) in * kernel * kernel);
            affine = register_module("affine", new Equalized.Linear(wDim, in, 1, 1));
            conv = register_module("conv", Layers.conv(in, out, kernel, 1, kernel / 2, false));
            Equalized.standardNormal(conv.weight());
            bias = torch.zeros(out);
            register_parameter("bias", bias);
            noiseStrength = noise ? torch.zeros(1) : null;
            if (noise) register_parameter("noise_strength", noiseStrength);
        }

        /** The styles s (N, in) for w (N, wDim). */
        Tensor styles(Tensor w) {
            Tensor st = affine.forward(w);
            return styleGain == 1 ? st : st.mul(s(styleGain));
        }

        /** Demodulation coefficients (N, out): 1 / ||W[o] * s||, the norm over input channels and kernel taps. */
        Tensor demodulation(Tensor styles) {
            Tensor wsq = conv.weight().square().sum(new long[] {2, 3}, false, new ScalarTypeOptional()); // (out, in)
            return styles.square().matmul(wsq.t()).add(s(1e-8)).rsqrt();
        }

        Tensor forward(Tensor x, Tensor w) {
            long n = x.size(0);
            Tensor st = styles(w);
            Tensor y = conv.forward(x.mul(st.view(n, in, 1, 1)));
            if (demodulate) y = y.mul(demodulation(st).view(n, out, 1, 1));
            if (noiseStrength != null) y = y.add(torch.randn(n, 1, y.size(2), y.size(3)).mul(noiseStrength));
            return y.add(bias.view(1, out, 1, 1));
        }

        /** The effective per-sample weights (N, out, in, k, k) that {@link #forward} applies, without noise and bias. */
        Tensor weights(Tensor w) {
            long n = w.size(0);
            Tensor st = styles(w);
            Tensor wt = conv.weight().unsqueeze(0).mul(st.view(n, 1, in, 1, 1));
            return demodulate ? wt.mul(demodulation(st).view(n, out, 1, 1, 1)) : wt;
        }
    }

    /** The modulated convolutions in order (block by block: conv0, conv1, toRGB), for tests and inspection. */
    List<ModulatedConv> modulatedConvs() {
        List<ModulatedConv> list = new ArrayList<>();
        for (SynthesisBlock b : blocks) {
            if (b.conv0 != null) list.add(b.conv0);
            list.add(b.conv1);
            list.add(b.toRgb);
        }
        return list;
    }
}
