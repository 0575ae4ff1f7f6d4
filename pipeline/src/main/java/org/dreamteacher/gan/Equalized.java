package org.dreamteacher.gan;

import static org.dreamteacher.nn.Layers.s;

import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.nn.Layers;

/**
 * StyleGAN's equalised learning rate: weights are stored standard normal and scaled by 1/sqrt(fan-in) when
 * used, so that Adam, whose steps have about the same size for every weight, changes every layer by the same
 * fraction of its scale. A default-initialised 3x3 weight with 64 input channels is about 0.024 in size: a step
 * at StyleGAN2's rate (0.002) would change it by about 8%, while a stored standard-normal weight changes by 0.2%.
 */
final class Equalized {
    private Equalized() {}

    /** A square convolution ("same" padding, stride 1); the scale is applied to the input, which is the same by linearity. */
    static final class Conv extends Module {
        final Conv2dImpl conv;
        final Tensor bias;
        final double gain;
        final long out;

        Conv(long in, long out, long kernel, boolean bias) {
            super();
            this.out = out;
            gain = 1 / Math.sqrt((double) in * kernel * kernel);
            conv = register_module("conv", Layers.conv(in, out, kernel, 1, kernel / 2, false));
            standardNormal(conv.weight());
            // Our own handle, as ConvNeXt's LayerNorm keeps its: the module's list may move when it grows.
            this.bias = bias ? torch.zeros(out) : null;
            if (bias) register_parameter("bias", this.bias);
        }

        Tensor forward(Tensor x) {
            Tensor y = conv.forward(x.mul(s(gain)));
            return bias == null ? y : y.add(bias.view(1, out, 1, 1));
        }
    }

    /**
     * A linear layer; {@code lrMultiplier} scales its effective learning rate (StyleGAN2's mapping network uses
     * 0.01): weights are stored divided by it and multiplied back when used.
     */
    static final class Linear extends Module {
        final Tensor weight;
        final Tensor bias;
        final double weightGain;
        final double lrMultiplier;

        Linear(long in, long out, double biasInit, double lrMultiplier) {
            super();
            this.lrMultiplier = lrMultiplier;
            weightGain = lrMultiplier / Math.sqrt(in);
            weight = torch.randn(out, in).div(s(lrMultiplier));
            bias = torch.full(new long[] {out}, s(biasInit / lrMultiplier));
            register_parameter("weight", weight);
            register_parameter("bias", bias);
        }

        Tensor forward(Tensor x) {
            return torch.linear(x, weight.mul(s(weightGain)), bias.mul(s(lrMultiplier)));
        }
    }

    static void standardNormal(Tensor t) {
        try (NoGradGuard ng = new NoGradGuard()) {
            t.normal_(0, 1, new GeneratorOptional());
        }
    }
}
