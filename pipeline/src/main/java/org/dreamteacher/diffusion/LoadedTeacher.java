package org.dreamteacher.diffusion;

import java.io.IOException;
import java.nio.file.Path;
import org.dreamteacher.nn.FeatureTeacher;
import org.dreamteacher.nn.TeacherInput;
import org.dreamteacher.nn.TorchScriptTeacher;

/**
 * A loaded feature teacher with its noise schedule and where it came from; closing it frees the model.
 *
 * @param owner what to close: the diffusion model of a checkpoint, or the TorchScript module
 */
public record LoadedTeacher(FeatureTeacher teacher, NoiseSchedule schedule, String source, AutoCloseable owner) implements AutoCloseable {
    /** Our diffusion checkpoint, or the shipped teacher when {@code file} is null. */
    public static LoadedTeacher diffusion(Path file) throws IOException {
        GaussianDiffusion d = Teachers.load(file);
        return new LoadedTeacher(d.unet(), d.schedule(), Teachers.source(file), d);
    }

    /**
     * A TorchScript export whose forward returns feature maps: {@code forward(x, t)} on images noised with the
     * schedule, or with {@link TeacherInput#CLEAN} {@code forward(x0, t, noise)}, where the schedule only bounds t.
     */
    public static LoadedTeacher torchScript(Path file, int inChannels, String schedule, int timesteps, TeacherInput input) {
        NoiseSchedule s = NoiseSchedule.of(schedule, timesteps);
        TorchScriptTeacher t = TorchScriptTeacher.load(file, inChannels, input);
        return new LoadedTeacher(t, s, "torchscript:" + file.toAbsolutePath().normalize(), t);
    }

    /** How the teacher is noised, for a summary line. */
    public String noising() {
        return teacher.input() == TeacherInput.CLEAN ? "clean input: it noises its own latents, T = " + schedule.timesteps()
                : schedule.name() + " schedule, T = " + schedule.timesteps();
    }

    @Override
    public void close() throws Exception {
        owner.close();
    }
}
