package org.dreamteacher.nn;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.FanModeType;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Nonlinearity;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.kFanOut;
import org.bytedeco.pytorch.kReLU;

/** Helpers shared by the model classes of this package: argument checks, initialisers, parameter selection. */
final class NnSupport {
    private NnSupport() {}

    static void require(boolean condition, String message) {
        if (!condition) throw new IllegalArgumentException(message);
    }

    /** Checks that {@code x} is (N, channels, H, W) with N, H, W > 0. */
    static void checkImage(Tensor x, long channels, String what) {
        require(x != null && !x.isNull() && x.defined(), what + ": input tensor is undefined");
        require(x.dim() == 4, what + ": input must be 4-D (N, C, H, W), got " + x.dim() + "-D");
        require(x.size(1) == channels, what + ": input has " + x.size(1) + " channels, expected " + channels);
        require(x.size(0) > 0 && x.size(2) > 0 && x.size(3) > 0, what + ": input has an empty dimension");
    }

    /** Checks a list of (N, C_l, H_l, W_l) maps against the expected channel counts. */
    static void checkLevels(List<Tensor> xs, List<Long> channels, String what) {
        require(xs != null, what + ": feature list is null");
        require(xs.size() == channels.size(), what + ": expected " + channels.size() + " feature levels, got " + xs.size());
        long n = -1;
        for (int i = 0; i < xs.size(); i++) {
            Tensor x = xs.get(i);
            require(x != null && !x.isNull() && x.defined(), what + ": level " + i + " is undefined");
            require(x.dim() == 4, what + ": level " + i + " must be 4-D (N, C, H, W), got " + x.dim() + "-D");
            require(x.size(1) == channels.get(i),
                    what + ": level " + i + " has " + x.size(1) + " channels, expected " + channels.get(i));
            require(x.size(2) > 0 && x.size(3) > 0, what + ": level " + i + " has an empty spatial dimension");
            if (n < 0) n = x.size(0);
            require(x.size(0) == n, what + ": level " + i + " has batch " + x.size(0) + ", level 0 has " + n);
        }
    }

    /** torchvision's conv init: kaiming normal, fan_out, ReLU gain. */
    static void kaimingFanOut(Tensor weight) {
        torch.kaiming_normal_(weight, 0.0, new FanModeType(new kFanOut()), new Nonlinearity(new kReLU()));
    }

    /** timm's trunc_normal_(std) with the default absolute bounds [-2, 2]. */
    static void truncNormal(Tensor weight, double std) {
        try (NoGradGuard ng = new NoGradGuard()) {
            weight.normal_(0.0, std, new org.bytedeco.pytorch.GeneratorOptional());
            weight.clamp_(new ScalarOptional(Layers.s(-2.0)), new ScalarOptional(Layers.s(2.0)));
        }
    }

    static void zero(Tensor t) {
        try (NoGradGuard ng = new NoGradGuard()) {
            t.zero_();
        }
    }

    /**
     * Parameters whose dotted name starts (or does not start) with one of the prefixes, as owning handles (the
     * dictionary's items are references into it, which would dangle once it is freed).
     */
    static List<Tensor> parameters(Module m, List<String> prefixes, boolean matching) {
        List<Tensor> out = new ArrayList<>();
        StringTensorDict params = m.named_parameters(true);
        for (long i = 0; i < params.size(); i++) {
            String name = params.get(i).key().getString();
            boolean match = false;
            for (String p : prefixes) match |= name.startsWith(p);
            if (match == matching) out.add(new Tensor(params.get(i).value()));
        }
        return out;
    }

    static long[] toLongs(List<Long> xs) {
        long[] out = new long[xs.size()];
        for (int i = 0; i < out.length; i++) out[i] = xs.get(i);
        return out;
    }

    /** Resize with bilinear interpolation unless the size already matches. */
    static Tensor resizeTo(Tensor x, long h, long w) {
        if (x.size(2) == h && x.size(3) == w) return x;
        return Layers.resizeBilinear(x, h, w);
    }
}
