package org.dreamteacher.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.nn.FeatureTeacher;
import org.dreamteacher.nn.TorchScriptTeacher;

/** A loaded feature teacher with its noise schedule; closing it frees the model. */
record TeacherChoice(FeatureTeacher teacher, NoiseSchedule schedule, String source, AutoCloseable owner) implements AutoCloseable {
    /** Our diffusion checkpoint, or the shipped teacher when {@code file} is null. */
    static TeacherChoice diffusion(Path file) throws IOException {
        GaussianDiffusion d = Teachers.load(file);
        return new TeacherChoice(d.unet(), d.schedule(), Teachers.source(file), d);
    }

    /** A TorchScript export whose {@code forward(x, t)} returns feature maps. */
    static TeacherChoice torchScript(Path file, int inChannels, String schedule, int timesteps) {
        NoiseSchedule s = NoiseSchedule.of(schedule, timesteps);
        TorchScriptTeacher t = TorchScriptTeacher.load(file, inChannels);
        return new TeacherChoice(t, s, "torchscript:" + file.toAbsolutePath().normalize(), t);
    }

    @Override
    public void close() throws Exception {
        owner.close();
    }
}
