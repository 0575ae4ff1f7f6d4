package org.dreamteacher.diffusion;

import java.io.IOException;
import java.nio.file.Path;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.torch.TorchRuntime;

/** Loading diffusion teachers from checkpoint files, with errors that say what the file holds instead. */
public final class Teachers {
    private Teachers() {}

    /** The teacher in {@code file}, or the shipped one when {@code file} is null. */
    public static GaussianDiffusion load(Path file) throws IOException {
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
        throw new IllegalArgumentException(file + " holds a '" + kind + "' model" + hint + ", not a diffusion teacher (kind 'diffusion', the "
                + "teacher.dtt written by train-teacher)");
    }

    /** Where a teacher comes from, for logs and checkpoints. */
    public static String source(Path file) {
        return file == null ? "shipped:" + ShippedTeacher.RESOURCE : file.toAbsolutePath().normalize().toString();
    }
}
