package org.dreamteacher.nn;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.BatchNormOptions;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.GroupNormImpl;
import org.bytedeco.pytorch.GroupNormOptions;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LinearOptions;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.torch.TorchRuntime;

/** Small builders for the layers every model uses, so that model code reads like its architecture. */
public final class Layers {
    static {
        TorchRuntime.init();
    }

    private Layers() {}

    /** A libtorch scalar (the Tensor API has no primitive overloads). */
    public static Scalar s(double v) {
        return new Scalar(v);
    }

    /** A square 2-D convolution. */
    public static Conv2dImpl conv(long in, long out, long kernel, long stride, long padding, boolean bias) {
        return conv(in, out, kernel, stride, padding, 1, bias);
    }

    /**
     * A square 2-D convolution with groups (groups == in for depthwise), checked by {@link org.dreamteacher.torch.ConvolutionGuard}
     * (once per shape and process) before it runs.
     */
    public static Conv2dImpl conv(long in, long out, long kernel, long stride, long padding, long groups, boolean bias) {
        Conv2dOptions o = new Conv2dOptions(in, out, new LongPointer(kernel, kernel));
        o.stride().put(0, stride).put(1, stride);
        o.padding().put(new LongPointer(padding, padding));
        o.groups().put(groups);
        o.bias().put(bias);
        return new org.dreamteacher.torch.GuardedConv2d(in, out, kernel, stride, padding, groups, bias, o);
    }

    public static LinearImpl linear(long in, long out) {
        return new LinearImpl(new LinearOptions(in, out));
    }

    /** GroupNorm with {@code min(groups, channels)} groups, reduced until it divides the channel count. */
    public static GroupNormImpl groupNorm(long groups, long channels) {
        long g = Math.min(groups, channels);
        while (channels % g != 0) g--;
        return new GroupNormImpl(new GroupNormOptions(g, channels));
    }

    /** Nearest-neighbour resize to (h, w). */
    public static Tensor resizeNearest(Tensor x, long h, long w) {
        return torch.upsample_nearest2d(x, new long[] {h, w});
    }

    /** Bilinear resize to (h, w), corners not aligned (as PyTorch's default). */
    public static Tensor resizeBilinear(Tensor x, long h, long w) {
        return torch.upsample_bilinear2d(x, new long[] {h, w}, false);
    }

    /** Nearest-neighbour upsampling by an integer factor. */
    public static Tensor upsampleNearest(Tensor x, long factor) {
        return resizeNearest(x, x.size(2) * factor, x.size(3) * factor);
    }

    /** BatchNorm over the channels of (N, C, H, W) maps, PyTorch's defaults (eps 1e-5, momentum 0.1, affine). */
    public static BatchNorm2dImpl batchNorm(long channels) {
        return new BatchNorm2dImpl(new BatchNormOptions(channels));
    }
}
