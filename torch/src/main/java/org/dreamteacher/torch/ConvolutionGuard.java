package org.dreamteacher.torch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Guards against wrong float32 convolutions from libtorch's oneDNN kernels. On AMD Zen 5 processors (family
 * 26) the oneDNN build inside the PyTorch preset computes wrong input gradients, sometimes NaN, for most 3x3
 * and 7x7 convolutions whose channel counts are not multiples of 16, and wrong forwards for some others
 * (336 of 972 shapes checked against float64; limiting oneDNN to AVX2 still left 18 of 84 wrong). Limited to
 * SSE4.1 kernels every shape was right and convolutions stayed 2-8x faster than libtorch's fallback path.
 *
 * <p>So, before the first convolution: on such a processor, unless the user set {@code ONEDNN_MAX_CPU_ISA},
 * oneDNN is limited to SSE4.1. Then a canary compares a few float32 convolutions (forward, input and weight
 * gradients) with float64; if any is wrong, oneDNN is switched off for the process and a warning says so.
 * {@link #status()} tells what was done. NNPACK, which does not run on these processors and only prints
 * warnings, is switched off too.
 */
public final class ConvolutionGuard {
    private static volatile String status = "not checked";

    private ConvolutionGuard() {}

    /** What the guard found and did, for {@code dreamteacher info}. */
    public static String status() {
        return status;
    }

    static void apply() {
        torch.globalContext().setUserEnabledNNPACK(false);
        String isa = System.getenv("ONEDNN_MAX_CPU_ISA");
        String limited = null;
        if (isa == null && amdFamily() >= 26) {
            torch.set_env("ONEDNN_MAX_CPU_ISA", "SSE41", true);
            limited = "oneDNN limited to SSE4.1 on this AMD family-" + amdFamily() + " processor";
        }
        String failure = canary();
        if (failure == null) {
            status = (limited != null ? limited + "; " : "") + "float32 convolutions checked against float64: correct";
            return;
        }
        torch.globalContext().setUserEnabledMkldnn(false);
        String again = canary();
        status = "oneDNN convolutions were wrong here (" + failure + "); oneDNN switched off"
                + (again == null ? ", after which convolutions are correct" : ", and convolutions are STILL wrong: " + again);
        System.err.println("dreamteacher: warning: " + status);
    }

    /** A failing shape and its error, or null when every convolution matched float64. */
    private static String canary() {
        long[][] shapes = { // batch, in, out, kernel, stride
            {2, 8, 8, 3, 1}, {2, 1, 4, 3, 1}, {3, 24, 12, 3, 2}, {2, 16, 24, 7, 1}, {2, 48, 32, 3, 2}, {4, 32, 64, 3, 1}};
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(12345);
            for (long[] s : shapes) {
                Tensor x = torch.randn(s[0], s[1], 9, 11).set_requires_grad(true);
                Tensor w = torch.randn(s[2], s[1], s[3], s[3]).mul(new org.bytedeco.pytorch.Scalar(1.0 / Math.sqrt(s[1] * s[3] * s[3])))
                        .set_requires_grad(true);
                Tensor xd = x.detach().to(ScalarType.Double).set_requires_grad(true);
                Tensor wd = w.detach().to(ScalarType.Double).set_requires_grad(true);
                Tensor y = conv(x, w, s), yd = conv(xd, wd, s);
                Tensor g = torch.randn(y.sizes().vec().get());
                y.backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
                yd.backward(g.to(ScalarType.Double), new BoolOptional(), false, new TensorArrayRefOptional());
                double ef = err(y, yd), ex = err(x.grad(), xd.grad()), ew = err(w.grad(), wd.grad());
                if (!(ef < 1e-3 && ex < 1e-3 && ew < 1e-3)) {
                    return String.format("in %d, out %d, %dx%d, stride %d: relative errors forward %.2g, input grad %.2g, weight grad %.2g",
                            s[1], s[2], s[3], s[3], s[4], ef, ex, ew);
                }
            }
        }
        return null;
    }

    private static Tensor conv(Tensor x, Tensor w, long[] s) {
        return torch.conv2d(x, w, new TensorOptional(), new long[] {s[4]}, new long[] {s[3] / 2}, new long[] {1}, 1);
    }

    /** Max absolute error relative to the max magnitude of the float64 value (NaN counts as wrong). */
    private static double err(Tensor f32, Tensor f64) {
        double diff = f32.to(ScalarType.Double).sub(f64).abs().max().item_double();
        double scale = Math.max(1e-12, f64.abs().max().item_double());
        return Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff / scale;
    }

    /** The CPU family of an AMD processor from /proc/cpuinfo, or -1. */
    static int amdFamily() {
        try {
            boolean amd = false;
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("vendor_id")) amd = line.contains("AuthenticAMD");
                if (line.startsWith("cpu family") && amd) return Integer.parseInt(line.replaceAll("[^0-9]", ""));
                if (line.isEmpty()) break;
            }
        } catch (IOException | NumberFormatException | SecurityException e) {
            // not Linux, or unreadable: no processor-specific setting
        }
        return -1;
    }
}
