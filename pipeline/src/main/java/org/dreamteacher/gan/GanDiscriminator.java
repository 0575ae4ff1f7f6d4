package org.dreamteacher.gan;

import static org.dreamteacher.nn.Layers.s;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.torch.TorchRuntime;

/**
 * StyleGAN2's residual discriminator, at the generator's widths: fromRGB (1x1), then one residual block per
 * resolution from the canvas down to 8x8 (two 3x3 convolutions and 2x average pooling, a pooled 1x1 shortcut,
 * the sum scaled by 1/sqrt(2)), and at 4x4 the minibatch standard deviation (one extra channel: the standard
 * deviation of the features over a group of images, averaged, which lets the discriminator see a lack of
 * variety), a 3x3 convolution and two linear layers to one logit per image. Every weight has an equalised
 * learning rate ({@code Equalized}). All convolutions are the project's guarded ones; R1 differentiates through
 * them twice.
 */
public final class GanDiscriminator extends ConfiguredModule {
    static {
        TorchRuntime.init();
    }

    private static final double INV_SQRT2 = 1 / Math.sqrt(2.0);

    private final DiscriminatorConfig config;
    private final Equalized.Conv fromRgb;
    private final List<Block> blocks = new ArrayList<>();
    private final Equalized.Conv conv;
    private final Equalized.Linear fc;
    private final Equalized.Linear out;

    public GanDiscriminator(DiscriminatorConfig config) {
        super();
        this.config = config;
        List<Integer> widths = config.widths();
        int last = widths.size() - 1;
        fromRgb = register_module("fromrgb", new Equalized.Conv(config.channels(), widths.get(last), 1, true));
        for (int i = last; i >= 1; i--)
            blocks.add(register_module("block_" + (4 << i), new Block(widths.get(i), widths.get(i - 1))));
        int c = widths.get(0);
        int extra = config.mbstdGroup() > 0 ? 1 : 0;
        conv = register_module("conv", new Equalized.Conv(c + extra, c, 3, true));
        fc = register_module("fc", new Equalized.Linear(16L * c, c, 0, 1));
        out = register_module("out", new Equalized.Linear(c, 1, 0, 1));
    }

    @Override
    public DiscriminatorConfig config() {
        return config;
    }

    /** One logit per image (N) for canvas images (N, channels, canvas, canvas); higher means "real". */
    public Tensor forward(Tensor x) {
        int canvas = config.canvasSize();
        if (x == null || x.isNull() || !x.defined() || x.dim() != 4 || x.size(1) != config.channels() || x.size(2) != canvas
                || x.size(3) != canvas)
            throw new IllegalArgumentException("GanDiscriminator: input must be (N, " + config.channels() + ", " + canvas + ", " + canvas + ")"
                    + (x != null && !x.isNull() && x.defined() ? ", got " + java.util.Arrays.toString(x.sizes().vec().get()) : ""));
        Tensor h = GanGenerator.act(fromRgb.forward(x));
        for (Block b : blocks) h = b.forward(h);
        if (config.mbstdGroup() > 0) h = minibatchStddev(h, config.mbstdGroup());
        h = GanGenerator.act(conv.forward(h));
        h = GanGenerator.act(fc.forward(h.flatten(1, -1)));
        return out.forward(h).view(-1);
    }

    /**
     * Appends the minibatch standard deviation as one channel: images are split into groups of {@code group} (the
     * largest divisor of the batch not above it), the standard deviation of every feature over each group is
     * averaged over features and positions, and the group's value fills the new channel of its images.
     */
    static Tensor minibatchStddev(Tensor x, int group) {
        long n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        long g = Math.min(group, n);
        while (n % g != 0) g--;
        Tensor y = x.reshape(g, -1, c, h, w);
        y = y.sub(y.mean(new long[] {0}, false, new ScalarTypeOptional()));
        y = y.square().mean(new long[] {0}, false, new ScalarTypeOptional()).add(s(1e-8)).sqrt();
        y = y.mean(new long[] {1, 2, 3}, false, new ScalarTypeOptional()).reshape(-1, 1, 1, 1);
        y = y.repeat(g, 1, h, w);
        return torch.cat(new TensorVector(x, y), 1);
    }

    /** A residual block that halves the resolution: in -> in -> out, shortcut pooled then 1x1 (no bias). */
    static final class Block extends Module {
        final Equalized.Conv conv0;
        final Equalized.Conv conv1;
        final Equalized.Conv skip;

        Block(int in, int out) {
            super();
            conv0 = register_module("conv0", new Equalized.Conv(in, in, 3, true));
            conv1 = register_module("conv1", new Equalized.Conv(in, out, 3, true));
            skip = register_module("skip", new Equalized.Conv(in, out, 1, false));
        }

        Tensor forward(Tensor x) {
            Tensor shortcut = skip.forward(torch.avg_pool2d(x, 2, 2));
            Tensor h = GanGenerator.act(conv0.forward(x));
            h = GanGenerator.act(torch.avg_pool2d(conv1.forward(h), 2, 2));
            return shortcut.add(h).mul(s(INV_SQRT2));
        }
    }
}
