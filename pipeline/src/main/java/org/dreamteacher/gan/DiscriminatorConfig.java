package org.dreamteacher.gan;

import java.util.List;
import org.dreamteacher.nn.ModelConfig;

/**
 * The discriminator of a GAN teacher (kind {@code gan-discriminator}): residual blocks from the canvas down to
 * 4x4 with the generator's widths in reverse, then minibatch standard deviation and a small head. It judges
 * images of the generator's canvas size ({@link GanConfig#canvasSize()}); real images are padded to it.
 *
 * @param channels   image channels, 1 or 3
 * @param imageSize  size of the training images
 * @param widths     channels at each resolution, 4x4 first (as {@link GanConfig#widths()})
 * @param mbstdGroup images per minibatch-standard-deviation group (0: no such layer)
 */
public record DiscriminatorConfig(int channels, int imageSize, List<Integer> widths, int mbstdGroup) implements ModelConfig {
    public DiscriminatorConfig {
        // The same rules as the generator's config, which also fixes the canvas.
        new GanConfig(channels, imageSize, 1, 1, 1, widths);
        widths = List.copyOf(widths);
        if (mbstdGroup < 0 || mbstdGroup > 64) throw new IllegalArgumentException("DiscriminatorConfig: mbstdGroup must be in 0..64, got " + mbstdGroup);
    }

    public int canvasSize() {
        return 4 << (widths.size() - 1);
    }

    @Override
    public String kind() {
        return "gan-discriminator";
    }

    @Override
    public GanDiscriminator build() {
        return new GanDiscriminator(this);
    }

    /** The 3x3 convolutions' weights. */
    @Override
    public long minimumParameters() {
        long n = 9L * widths.get(0) * widths.get(0);
        for (int i = 1; i < widths.size(); i++) n += 9L * widths.get(i) * widths.get(i) + 9L * widths.get(i) * widths.get(i - 1);
        return n;
    }
}
