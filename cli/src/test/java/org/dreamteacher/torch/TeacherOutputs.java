package org.dreamteacher.torch;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.diffusion.ShippedTeacher;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.nn.FeatureMap;

/**
 * The shipped teacher's outputs (epsilon prediction and the three tapped features) on a fixed batch, written to a
 * file, or compared with such a file: {@code TeacherOutputs write FILE} / {@code TeacherOutputs compare FILE}.
 * Used to show that the convolution guard's padding leaves checkpoints and outputs as they were.
 */
public final class TeacherOutputs {
    public static void main(String[] args) throws Exception {
        TorchRuntime.init();
        List<float[]> outs = new ArrayList<>();
        StringBuilder keys = new StringBuilder();
        try (GaussianDiffusion d = ShippedTeacher.load(); NoGradGuard g = new NoGradGuard()) {
            var params = d.unet().named_parameters();
            for (long i = 0; i < params.size(); i++) keys.append(params.get(i).key().getString()).append(java.util.Arrays.toString(params.get(i).value().sizes().vec().get())).append(';');
            Noise noise = new Noise(7);
            Tensor x = noise.normal(8, 1, 28, 28);
            Tensor t = torch.tensor(new long[] {0, 50, 100, 200, 400, 600, 800, 999});
            outs.add(floats(d.unet().forward(x, t)));
            for (FeatureMap f : d.unet().features(x, t)) outs.add(floats(f.tensor()));
        }
        Path file = Path.of(args[1]);
        if (args[0].equals("write")) {
            try (DataOutputStream o = new DataOutputStream(Files.newOutputStream(file))) {
                o.writeUTF(Integer.toHexString(keys.toString().hashCode()));
                o.writeInt(outs.size());
                for (float[] a : outs) {
                    o.writeInt(a.length);
                    for (float v : a) o.writeFloat(v);
                }
            }
            System.out.println("wrote " + file + " (parameters digest " + Integer.toHexString(keys.toString().hashCode()) + ")");
            return;
        }
        try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
            String digest = in.readUTF();
            System.out.println("parameter names and shapes " + (digest.equals(Integer.toHexString(keys.toString().hashCode())) ? "identical" : "DIFFER"));
            int n = in.readInt();
            for (int k = 0; k < n; k++) {
                float[] ref = new float[in.readInt()];
                for (int i = 0; i < ref.length; i++) ref[i] = in.readFloat();
                float[] a = outs.get(k);
                double maxDiff = 0, maxRef = 0;
                int same = 0;
                for (int i = 0; i < ref.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs((double) a[i] - ref[i]));
                    maxRef = Math.max(maxRef, Math.abs(ref[i]));
                    if (Float.floatToIntBits(a[i]) == Float.floatToIntBits(ref[i])) same++;
                }
                System.out.printf(Locale.ROOT, "output %d (%s): %d values, %d bit-identical, max |diff| / max |ref| = %.2g%n", k,
                        k == 0 ? "epsilon" : "tap " + (k - 1), ref.length, same, maxDiff / maxRef);
            }
        }
    }

    private static float[] floats(Tensor t) {
        Tensor c = t.contiguous();
        float[] a = new float[(int) c.numel()];
        c.data_ptr_float().get(a);
        return a;
    }
}
