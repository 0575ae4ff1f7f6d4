package org.dreamteacher.nn;

import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.QualifiedName;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.torch.TorchRuntime;

/**
 * A small latent diffusion teacher written in TorchScript source, for the tests of the clean input contract
 * (here and in the command-line tests): a stride-2 convolution encodes 1-channel images into a 4-channel latent
 * at half size, the latent is noised as sqrt(ᾱ_t) z + sqrt(1 − ᾱ_t) noise with the module's own table of
 * {@link #TABLE} steps, and a U-Net of one level (down, up, skip) returns the taps 'mid' (16 channels, stride 4)
 * and 'up' (8 channels, stride 2). Its {@code noise_shape(x0)} is (N, 4, ⌈H/2⌉, ⌈W/2⌉).
 */
public final class LatentTeacherModules {
    /** Length of the module's schedule table: valid timesteps are [0, TABLE). */
    public static final int TABLE = 50;

    private LatentTeacherModules() {}

    /** The module's TorchScript source; with {@code optionalNoise} its forward(x, t) also runs, without noising. */
    public static String source(boolean optionalNoise) {
        return "def noise_shape(self, x0: Tensor) -> List[int]:\n"
                + "    return [x0.size(0), 4, (x0.size(2) + 1) // 2, (x0.size(3) + 1) // 2]\n"
                + "def encode(self, x0: Tensor) -> Tensor:\n"
                + "    return torch.conv2d(x0, self.enc_w, None, 2, 1)\n"
                + "def forward(self, x0: Tensor, t: Tensor, noise: " + (optionalNoise ? "Optional[Tensor] = None" : "Tensor")
                + ") -> Dict[str, Tensor]:\n"
                + "    z = self.encode(x0)\n"
                + (optionalNoise ? "    if noise is not None:\n        " : "    ")
                + "z = self.sqrt_ab.index_select(0, t).view(-1, 1, 1, 1) * z + self.sqrt_1mab.index_select(0, t).view(-1, 1, 1, 1) * noise\n"
                + "    temb = (t.float() / 50.0).view(-1, 1, 1, 1)\n"
                + "    h1 = torch.relu(torch.conv2d(z, self.w1, None, 1, 1) + temb)\n"
                + "    h2 = torch.relu(torch.conv2d(h1, self.w2, None, 2, 1))\n"
                + "    u = h2.repeat_interleave(2, 2).repeat_interleave(2, 3)[:, :, :h1.size(2), :h1.size(3)]\n"
                + "    h3 = torch.relu(torch.conv2d(torch.cat([u, h1], 1), self.w3, None, 1, 1))\n"
                + "    return {'mid': h2, 'up': h3}\n";
    }

    /** The module, weights from a fixed seed, with a linear-beta table; the caller saves or closes it. */
    public static JitModule latentTeacher(boolean optionalNoise) {
        TorchRuntime.init();
        torch.manual_seed(11);
        JitModule m = new JitModule(new QualifiedName("LatentTeacher"));
        m.register_parameter("enc_w", torch.randn(4, 1, 3, 3).mul(new Scalar(0.5)), false);
        m.register_parameter("w1", torch.randn(8, 4, 3, 3).mul(new Scalar(0.3)), false);
        m.register_parameter("w2", torch.randn(16, 8, 3, 3).mul(new Scalar(0.2)), false);
        m.register_parameter("w3", torch.randn(8, 24, 3, 3).mul(new Scalar(0.2)), false);
        float[] a = new float[TABLE], b = new float[TABLE];
        double abar = 1;
        for (int i = 0; i < TABLE; i++) {
            abar *= 1 - (1e-3 + (0.2 - 1e-3) * i / (TABLE - 1));
            a[i] = (float) Math.sqrt(abar);
            b[i] = (float) Math.sqrt(1 - abar);
        }
        m.register_buffer("sqrt_ab", torch.tensor(a));
        m.register_buffer("sqrt_1mab", torch.tensor(b));
        m.define(source(optionalNoise));
        return m;
    }
}
