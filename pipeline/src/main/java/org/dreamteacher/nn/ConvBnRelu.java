package org.dreamteacher.nn;

import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** conv (no bias) + BatchNorm + ReLU, children "conv" and "bn" (mmseg's ConvModule naming). */
final class ConvBnRelu extends Module {
    private final Conv2dImpl conv;
    private final BatchNorm2dImpl bn;

    ConvBnRelu(long in, long out, long kernel) {
        conv = register_module("conv", Layers.conv(in, out, kernel, 1, kernel / 2, false));
        NnSupport.kaimingFanOut(conv.weight());
        bn = register_module("bn", Layers.batchNorm(out));
    }

    Tensor forward(Tensor x) {
        return torch.relu(bn.forward(conv.forward(x)));
    }
}
