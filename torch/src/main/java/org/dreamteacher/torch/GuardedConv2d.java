package org.dreamteacher.torch;

import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * A square 2-D convolution whose shape {@link ConvolutionGuard} has checked against float64 before it runs. Where
 * the guard found oneDNN wrong for the shape as it is, {@link #forward} zero-pads the channel counts (weight,
 * bias and input) to multiples of 16 and drops the extra outputs: the same result, computed by kernels that are
 * right; where padding does not help either, it runs libtorch's own im2col + BLAS convolution. The parameters
 * (and checkpoints) are exactly those of a {@link Conv2dImpl}; only Java callers of {@code forward} get the guard.
 */
public final class GuardedConv2d extends Conv2dImpl {
    private final ConvolutionGuard.ConvShape shape;
    private final ConvolutionGuard.Plan plan;

    public GuardedConv2d(long in, long out, long kernel, long stride, long padding, long groups, boolean bias, Conv2dOptions options) {
        super(options);
        shape = new ConvolutionGuard.ConvShape(in, out, kernel, stride, padding, groups, bias);
        plan = ConvolutionGuard.plan(shape);
    }

    /** The routes this shape runs (for tests and reports). */
    public ConvolutionGuard.Plan plan() {
        return plan;
    }

    @Override
    public Tensor forward(Tensor x) {
        ConvolutionGuard.Route p = x.requires_grad() ? plan.gradInput() : plan.noGradInput();
        if (p.none() && !(shape.kernel() == 1 && shape.padding() == 0 && shape.stride() > 1 && ConvolutionGuard.subsampleStrided1x1())) return super.forward(x);
        return run(x, weight(), shape.bias() ? bias() : null, shape, p);
    }

    /** The convolution of {@code shape} the way {@code p} says (null bias: none). */
    static Tensor run(Tensor x, Tensor w, Tensor b, ConvolutionGuard.ConvShape shape, ConvolutionGuard.Route p) {
        long groups = shape.groups(), stride = shape.stride();
        if (shape.kernel() == 1 && shape.padding() == 0 && stride > 1 && ConvolutionGuard.subsampleStrided1x1()) {
            // A strided 1x1 convolution is the 1x1 convolution of every stride-th pixel: same products, same sums.
            // oneDNN's strided 1x1 backward (brgemm) dies of SIGFPE here for 512 and more input channels.
            x = x.slice(2, new LongOptional(0), new LongOptional(Long.MAX_VALUE), stride)
                    .slice(3, new LongOptional(0), new LongOptional(Long.MAX_VALUE), stride);
            stride = 1;
        }
        if (p.im2col()) {
            if (groups != 1) throw new IllegalArgumentException("im2col runs ungrouped convolutions only: " + shape);
            long k = shape.kernel();
            return torch.thnn_conv2d(x, w, new long[] {k, k}, b == null ? new TensorOptional() : new TensorOptional(b), new long[] {stride, stride},
                    new long[] {shape.padding(), shape.padding()});
        }
        if (!p.none()) {
            if (groups == 1) {
                if (p.in() > 0) x = torch.constant_pad_nd(x, new long[] {0, 0, 0, 0, 0, p.in()}, new Scalar(0.0));
                w = torch.constant_pad_nd(w, new long[] {0, 0, 0, 0, 0, p.in(), 0, p.out()}, new Scalar(0.0));
            } else { // depthwise: one filter per channel, channels padded together
                x = torch.constant_pad_nd(x, new long[] {0, 0, 0, 0, 0, p.in()}, new Scalar(0.0));
                w = torch.constant_pad_nd(w, new long[] {0, 0, 0, 0, 0, 0, 0, p.out()}, new Scalar(0.0));
                groups += p.in();
            }
            if (b != null && p.out() > 0) b = torch.constant_pad_nd(b, new long[] {0, p.out()}, new Scalar(0.0));
        }
        Tensor y = torch.conv2d(x, w, b == null ? new TensorOptional() : new TensorOptional(b), new long[] {stride},
                new long[] {shape.padding()}, new long[] {1}, groups);
        return p.out() > 0 ? y.narrow(1, 0, shape.out()).contiguous() : y;
    }
}
