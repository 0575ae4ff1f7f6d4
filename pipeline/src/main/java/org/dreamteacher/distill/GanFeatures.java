package org.dreamteacher.distill;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.gan.GanConfig;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.gan.GanInversion;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.Layers;
import org.dreamteacher.torch.CpuTensors;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.train.SameRun;

/**
 * Online distillation from a GAN teacher: every step draws fresh latents, the generator synthesises images
 * while its synthesis blocks' outputs are recorded, and the student learns to regress those features from the
 * generated images, which are all it sees (clamped to [-1, 1], at the generator's canvas size so that every
 * tap's stride is exact). The latents and noise of a step come from libtorch's generator seeded with
 * (seed, step, the batch's offset), so a resumed run sees the same images as an uninterrupted one and the ranks
 * of a data-parallel run see different ones.
 *
 * <p>The run's batches only pace the steps: {@link #placeholderImages} gives the dataset to distil with.
 *
 * <p>Label guidance: a generator has no encoder, so the interpreter reads the generator's features of the labelled
 * images through their inversions ({@link GanInversion}): styles from which the generator draws each labelled image
 * back, found once per run and kept in {@code inverted-styles.dtt} in the run folder. Each interpreter step draws
 * its batch's images from their styles (fresh noise inputs) and records the synthesis blocks' outputs; the
 * batch's flips are not applied (its labels are classes, which a flip keeps). During distillation the interpreter
 * then labels the generated images from their own recorded features, as DatasetGAN's interpreter labels a GAN's
 * samples.
 */
public final class GanFeatures implements FeatureSource {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The file in a label-guided run's folder that keeps the labelled images' inverted styles. */
    public static final String INVERTED_STYLES = "inverted-styles.dtt";

    private final GanGenerator generator;
    private final long seed;
    private final GanInversion.Settings inversion;

    public GanFeatures(GanGenerator generator, long seed) {
        this(generator, seed, GanInversion.Settings.defaults());
    }

    /** With the inversion settings that label guidance uses for the labelled images. */
    public GanFeatures(GanGenerator generator, long seed, GanInversion.Settings inversion) {
        if (generator == null || inversion == null) throw new IllegalArgumentException("the generator and the inversion settings are required");
        this.generator = generator;
        this.seed = seed;
        this.inversion = inversion;
        generator.eval();
    }

    @Override
    public FeatureSource forLabelledImages(Batches labelled, Path runDir, long seed) throws IOException {
        ImageDataset data = labelled.imageDataset();
        GanConfig c = generator.config();
        if (data == null) throw new IllegalArgumentException("label guidance with a GAN teacher needs classified images, not scenes");
        if (data.channels() != c.channels() || data.height() != c.imageSize() || data.width() != c.imageSize())
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "the labelled images are %dx%dx%d but the generator draws %dx%dx%d images", data.channels(), data.height(), data.width(),
                    c.channels(), c.imageSize(), c.imageSize()));
        int[] indices = labelled.sampleIndices();
        Path file = runDir.resolve(INVERTED_STYLES);
        ObjectNode meta = JSON.createObjectNode();
        meta.put("images", data.fingerprint());
        meta.put("indices", Arrays.hashCode(indices));
        meta.put("count", indices.length);
        meta.set("inversion", JSON.valueToTree(inversion));
        meta.put("seed", seed);
        Tensor styles;
        if (Files.exists(file)) {
            TensorFile.Contents read = TensorFile.read(file);
            List<String> differences = SameRun.differences(read.meta(), meta);
            if (!differences.isEmpty())
                throw new IllegalStateException(file + " holds the inversions of other labelled images or settings: " + String.join("; ", differences)
                        + "; use another --out or delete the file");
            styles = read.tensors().get("styles");
            if (styles == null || styles.dim() != 2 || styles.size(0) != indices.length || styles.size(1) != c.wDim())
                throw new IllegalStateException(file + " holds no (" + indices.length + ", " + c.wDim() + ") styles tensor");
        } else {
            styles = GanInversion.invert(generator, data.toTensor(indices), inversion, SeededRandom.mix(seed, SeedStreams.GAN_INVERSION));
            TensorFile.write(file, meta, Map.of("styles", styles));
        }
        Map<Integer, Integer> row = new HashMap<>();
        for (int i = 0; i < indices.length; i++) row.put(indices[i], i);
        return new Inverted(styles, row, seed);
    }

    /** The generator's features of labelled images, drawn from their inverted styles. */
    private final class Inverted implements FeatureSource {
        private final Tensor styles;
        private final Map<Integer, Integer> row;
        private final long labelledSeed;

        Inverted(Tensor styles, Map<Integer, Integer> row, long labelledSeed) {
            this.styles = styles;
            this.row = row;
            this.labelledSeed = labelledSeed;
        }

        @Override
        public List<FeatureMap> features(Batches.Batch batch, long step) {
            long[] rows = new long[batch.indices().length];
            for (int i = 0; i < rows.length; i++) {
                Integer r = row.get(batch.indices()[i]);
                if (r == null) throw new IllegalArgumentException("image " + batch.indices()[i] + " is not one of the inverted labelled images");
                rows[i] = r;
            }
            torch.manual_seed(SeededRandom.mix(labelledSeed, SeedStreams.GAN_INVERSION, step));
            try (NoGradGuard ng = new NoGradGuard()) {
                return generator.synthesizeStyles(styles.index_select(0, CpuTensors.longs(rows, rows.length))).features();
            }
        }

        @Override
        public String describe() {
            return "inverted labelled images of " + GanFeatures.this.describe();
        }
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
