package org.dreamteacher.gan;

import java.util.ArrayList;
import java.util.List;
import org.dreamteacher.nn.ModelConfig;

/**
 * The generator of a GAN teacher (kind {@code gan-generator}). The generator works on a square canvas of
 * 4·2^k pixels, the smallest that holds {@code imageSize}: 32 for Fashion-MNIST's 28. Real images smaller than
 * the canvas are padded to it with -1 (black, the background of Fashion-MNIST) so that the discriminator sees
 * what the generator draws; {@link GanGenerator#crop} takes the centre {@code imageSize} pixels back out. Padding
 * rather than resizing keeps every tap's stride an exact power of two of the canvas, which is what pairing taps
 * with backbone levels by stride needs.
 *
 * @param channels      image channels, 1 (grey) or 3 (RGB)
 * @param imageSize     size of the training images (square)
 * @param zDim          size of the latent z
 * @param wDim          size of the intermediate latent w (the style)
 * @param mappingLayers linear layers of the mapping network from z to w
 * @param widths        channels of the synthesis block at each resolution, 4x4 first, one per doubling up to
 *                      the canvas; the discriminator uses the same widths in reverse
 */
public record GanConfig(int channels, int imageSize, int zDim, int wDim, int mappingLayers, List<Integer> widths) implements ModelConfig {
    /** Minibatch standard-deviation group of the discriminator built by {@link #discriminator()}. */
    public static final int MBSTD_GROUP = 4;

    public GanConfig {
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("GanConfig: channels must be 1 or 3, got " + channels);
        if (imageSize < 4 || imageSize > 1024) throw new IllegalArgumentException("GanConfig: imageSize must be in 4..1024, got " + imageSize);
        if (zDim < 1 || zDim > 4096 || wDim < 1 || wDim > 4096)
            throw new IllegalArgumentException("GanConfig: zDim and wDim must be in 1..4096, got " + zDim + " and " + wDim);
        if (mappingLayers < 1 || mappingLayers > 16)
            throw new IllegalArgumentException("GanConfig: mappingLayers must be in 1..16, got " + mappingLayers);
        if (widths == null || widths.isEmpty()) throw new IllegalArgumentException("GanConfig: widths must list at least the 4x4 block");
        widths = List.copyOf(widths);
        for (int w : widths)
            if (w < 1 || w > 4096) throw new IllegalArgumentException("GanConfig: widths must be in 1..4096, got " + widths);
        int canvas = canvasFor(imageSize);
        if (4 << (widths.size() - 1) != canvas)
            throw new IllegalArgumentException("GanConfig: " + imageSize + " px images need a " + canvas + " px canvas, that is "
                    + levelsFor(imageSize) + " widths (4x4 up to " + canvas + "x" + canvas + "), got " + widths.size());
    }

    /**
     * A generator for {@code imageSize} px images whose blocks are {@code width} channels wide up to 8x8 and halve
     * at each doubling after that (at least 8): width 64 at 32 px gives 64, 64, 32, 16. z and w have {@code width}
     * entries, the mapping network two layers (StyleGAN2-ADA's choice for small images).
     */
    public static GanConfig of(int channels, int imageSize, int width) {
        if (width < 1) throw new IllegalArgumentException("GanConfig: width must be > 0, got " + width);
        int levels = levelsFor(imageSize);
        List<Integer> widths = new ArrayList<>();
        for (int i = 0; i < levels; i++) widths.add(Math.max(Math.min(8, width), width >> Math.max(0, i - 1)));
        return new GanConfig(channels, imageSize, width, width, 2, widths);
    }

    /** The smallest 4·2^k that is at least {@code size}. */
    public static int canvasFor(int size) {
        int c = 4;
        while (c < size) c *= 2;
        return c;
    }

    private static int levelsFor(int size) {
        return Integer.numberOfTrailingZeros(canvasFor(size) / 4) + 1;
    }

    /** The size the generator draws at: 4·2^(levels-1). */
    public int canvasSize() {
        return 4 << (widths.size() - 1);
    }

    /** Synthesis blocks (resolutions 4 up to the canvas). */
    public int levels() {
        return widths.size();
    }

    /** Every synthesis block as a tap, largest stride (4x4 block) first, in the order {@link GanGenerator} returns them. */
    public List<GanTap> taps() {
        List<GanTap> taps = new ArrayList<>();
        for (int i = 0; i < widths.size(); i++) {
            int res = 4 << i;
            taps.add(new GanTap(i, "b" + res, widths.get(i), canvasSize() / res, res));
        }
        return List.copyOf(taps);
    }

    /** The matching discriminator: the same widths in reverse, minibatch standard deviation over groups of 4. */
    public DiscriminatorConfig discriminator() {
        return new DiscriminatorConfig(channels, imageSize, widths, MBSTD_GROUP);
    }

    @Override
    public String kind() {
        return "gan-generator";
    }

    @Override
    public GanGenerator build() {
        return new GanGenerator(this);
    }

    /** The 3x3 modulated convolutions' weights. */
    @Override
    public long minimumParameters() {
        long n = 9L * widths.get(0) * widths.get(0);
        for (int i = 1; i < widths.size(); i++) n += 9L * widths.get(i - 1) * widths.get(i) + 9L * widths.get(i) * widths.get(i);
        return n;
    }
}
