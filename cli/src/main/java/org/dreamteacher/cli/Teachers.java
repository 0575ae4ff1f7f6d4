package org.dreamteacher.cli;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.viz.Pictures;
import org.dreamteacher.diffusion.ShippedTeacher;
import java.io.IOException;
import java.nio.file.Path;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;

/** Loading diffusion teachers from checkpoint files, with errors that say what the file holds instead, and drawing their samples. */
final class Teachers {
    private Teachers() {}

    /** The teacher in {@code file}, or the shipped one when {@code file} is null. */
    static GaussianDiffusion load(Path file) throws IOException {
        TorchRuntime.init();
        if (file == null) return ShippedTeacher.load();
        ConfiguredModule m = Checkpoints.load(file);
        if (m instanceof GaussianDiffusion d) return d;
        String kind = m.config().kind();
        m.close();
        String hint = switch (kind) {
            case "resnet", "convnext" -> " (a backbone: use it with probe, finetune or segment)";
            case "unet" -> " (a bare U-Net without its noise schedule)";
            default -> "";
        };
        throw new CliException(file + " holds a '" + kind + "' model" + hint + ", not a diffusion teacher (kind 'diffusion', the "
                + "teacher.dtt written by train-teacher)");
    }

    /**
     * Samples {@code n} images with {@code sampler} ("ddim" with {@code steps} and {@code eta}, or "ddpm" with all
     * of the teacher's steps) and writes them as a grid (8 columns at most, each pixel drawn 2 x 2 up to 64 px).
     */
    static void drawSamples(GaussianDiffusion model, int n, String sampler, int steps, double eta, long seed, Path png) throws IOException {
        int total = sampler.equals("ddpm") ? model.timesteps() : steps;
        try (PointerScope scope = new PointerScope(); Progress bar = Progress.start("sample", total, 0, "step")) {
            GaussianDiffusion.Progress p = (done, all) -> bar.stepTo(done, null);
            Tensor images = sampler.equals("ddpm") ? model.sampleDdpm(n, seed, p) : model.sampleDdim(n, steps, eta, seed, p);
            int columns = Math.min(8, (int) Math.ceil(Math.sqrt(n)));
            int scale = model.config().unet().imageSize() <= 64 ? 2 : 1;
            Pictures.saveGrid(png, images, columns, scale);
        }
    }

    /** Where a teacher comes from, for logs and checkpoints. */
    static String source(Path file) {
        return file == null ? "shipped:" + ShippedTeacher.RESOURCE : file.toAbsolutePath().normalize().toString();
    }
}
