package org.dreamteacher.distill;

import java.util.List;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.gan.GanConfig;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.Layers;

/**
 * Online distillation from a GAN teacher: every step draws fresh latents, the generator synthesises images
 * while its synthesis blocks' outputs are recorded, and the student learns to regress those features from the
 * generated images, which are all it sees (clamped to [-1, 1], at the generator's canvas size so that every
 * tap's stride is exact). The latents and noise of a step come from libtorch's generator seeded with
 * (seed, step, the batch's offset), so a resumed run sees the same images as an uninterrupted one and the ranks
 * of a data-parallel run see different ones.
 *
 * <p>The run's batches only pace the steps: {@link #placeholderImages} gives the dataset to distil with.
 */
public final class GanFeatures implements FeatureSource {
    private final GanGenerator generator;
    private final long seed;

    public GanFeatures(GanGenerator generator, long seed) {
        if (generator == null) throw new IllegalArgumentException("the generator is required");
        this.generator = generator;
        this.seed = seed;
        generator.eval();
    }

    @Override
    public List<FeatureMap> features(Batches.Batch batch, long step) {
        return sample(batch, step).features();
    }

    @Override
    public Sample sample(Batches.Batch batch, long step) {
        long n = batch.images().size(0);
        torch.manual_seed(SeededRandom.mix(seed, SeedStreams.GAN_FEATURES, step, batch.offset()));
        try (NoGradGuard ng = new NoGradGuard()) {
            GanGenerator.Output out = generator.synthesize(generator.latents(n));
            return new Sample(out.image().clamp(new ScalarOptional(Layers.s(-1)), new ScalarOptional(Layers.s(1))), out.features());
        }
    }

    /**
     * The dataset that paces a distillation from this generator: {@code batchSize} blank images of the canvas size.
     * Their content is never used; with a batch of the same size every step is one epoch.
     */
    public ImageDataset placeholderImages(int batchSize) {
        GanConfig c = generator.config();
        int size = c.canvasSize();
        return ImageDataset.ofBytes(new byte[Math.multiplyExact(batchSize, c.channels() * size * size)], batchSize, c.channels(), size, size);
    }

    @Override
    public String describe() {
        GanConfig c = generator.config();
        return "GAN generator (widths " + c.widths() + ", " + c.canvasSize() + " px canvas), fresh latents every step, seed " + seed;
    }
}
