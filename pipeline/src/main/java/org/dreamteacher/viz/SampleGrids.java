package org.dreamteacher.viz;

import java.io.IOException;
import java.nio.file.Path;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.train.Progress;

/** Grids of images sampled from a diffusion teacher. */
public final class SampleGrids {
    private SampleGrids() {}

    /**
     * Samples {@code n} images with {@code sampler} ("ddim" with {@code steps} and {@code eta}, or "ddpm" with all
     * of the teacher's steps) and writes them as a grid (8 columns at most, each pixel drawn 2 x 2 up to 64 px).
     */
    public static void diffusion(GaussianDiffusion model, int n, String sampler, int steps, double eta, long seed, Path png) throws IOException {
        int total = sampler.equals("ddpm") ? model.timesteps() : steps;
        try (PointerScope scope = new PointerScope(); Progress bar = Progress.start("sample", total, 0, "step")) {
            GaussianDiffusion.Progress p = (done, all) -> bar.stepTo(done, null);
            Tensor images = sampler.equals("ddpm") ? model.sampleDdpm(n, seed, p) : model.sampleDdim(n, steps, eta, seed, p);
            int columns = Math.min(8, (int) Math.ceil(Math.sqrt(n)));
            int scale = model.config().unet().imageSize() <= 64 ? 2 : 1;
            Pictures.saveGrid(png, images, columns, scale);
        }
    }
}
