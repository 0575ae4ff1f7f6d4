package org.dreamteacher.diffusion;

import org.dreamteacher.nn.ModelConfig;

/**
 * A diffusion teacher: its U-Net and its noise schedule. The schedule is not stored in checkpoints as
 * numbers; it is recomputed from {@code schedule} and {@code timesteps}, which is exact because it is a pure
 * function of them.
 *
 * @param unet      the epsilon-prediction network ({@code outChannels == inChannels})
 * @param timesteps number of diffusion steps T (1000 in DDPM and ADM)
 * @param schedule  "linear" (DDPM, rescaled by 1000/T) or "cosine" (improved DDPM)
 */
public record DiffusionConfig(UNetConfig unet, int timesteps, String schedule) implements ModelConfig {
    public DiffusionConfig {
        if (unet == null) throw new IllegalArgumentException("DiffusionConfig: unet config is missing");
        if (unet.outChannels() != unet.inChannels())
            throw new IllegalArgumentException("DiffusionConfig: the U-Net predicts noise, so outChannels (" + unet.outChannels()
                    + ") must equal inChannels (" + unet.inChannels() + ")");
        try {
            NoiseSchedule.of(schedule, timesteps);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("DiffusionConfig: " + e.getMessage(), e);
        }
    }

    /** T = 1000 with the linear schedule, as DDPM and the paper's ADM teachers. */
    public static DiffusionConfig of(UNetConfig unet) {
        return new DiffusionConfig(unet, 1000, "linear");
    }

    public NoiseSchedule noiseSchedule() {
        return NoiseSchedule.of(schedule, timesteps);
    }

    @Override
    public String kind() {
        return "diffusion";
    }

    @Override
    public long minimumParameters() {
        return unet.minimumParameters();
    }

    @Override
    public GaussianDiffusion build() {
        return new GaussianDiffusion(this);
    }
}
