package org.dreamteacher.distill;

import java.util.List;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.FeatureTeacher;
import org.dreamteacher.nn.TeacherInput;

/**
 * The paper's way: encode each batch inside the training loop, with fresh noise every step. It costs a teacher
 * forward per step but needs no disk, follows any augmentation (the teacher sees the flipped image too) and
 * never shows the student the same noise twice. The noise of step s is {@code new Noise(seed * 7919 + s)}, as
 * {@link Distiller} draws it, so switching a run to this source changes nothing; a teacher that takes clean
 * images gets its latent-shaped noise from the same stream.
 */
public final class OnlineFeatures implements FeatureSource {
    private final FeatureTeacher teacher;
    private final NoiseSchedule schedule;
    private final int timestep;
    private final long seed;

    public OnlineFeatures(FeatureTeacher teacher, NoiseSchedule schedule, int timestep, long seed) {
        if (teacher == null || schedule == null) throw new IllegalArgumentException("teacher and schedule are required");
        if (timestep < 0 || timestep >= schedule.timesteps())
            throw new IllegalArgumentException("timestep " + timestep + " is outside the teacher's schedule [0, " + schedule.timesteps() + ")");
        this.teacher = teacher;
        this.schedule = schedule;
        this.timestep = timestep;
        this.seed = seed;
    }

    @Override
    public List<FeatureMap> features(Batches.Batch batch, long step) {
        return GaussianDiffusion.encode(teacher, schedule, batch.images(), timestep, Noise.rows(SeedStreams.stepNoiseSeed(seed, step), batch.offset(), batch.globalSize()));
    }

    @Override
    public String describe() {
        return "online (t = " + timestep + ", seed " + seed + ", " + schedule + ")";
    }

    @Override
    public TeacherInput teacherInput() {
        return teacher.input();
    }
}
