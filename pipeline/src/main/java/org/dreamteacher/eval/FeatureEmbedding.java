package org.dreamteacher.eval;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.NpyWriter;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.ConvNeXt;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;

/**
 * Frozen backbone features of a dataset for other tools: every image's globally average-pooled C2..C5 maps
 * (one level, or all four side by side), written as a float32 (N, C) NumPy array, with the labels as an int64
 * (N) array beside it when the data has them.
 *
 * <p>The features are those the linear probe sees: {@link Classifier#pooledFeatures} computes its C5
 * features through {@link #forEachBatch} as well, on the images of {@link ImageDataset#toTensor} (pixels mapped to
 * [-1, 1]), with the backbone in eval mode and without gradients. The probe's later standardisation belongs to
 * the probe (its statistics come from the labelled subset), so the file holds the raw pooled features.
 *
 * <p>Memory stays bounded for any dataset size: each batch is pooled in its own native scope and appended to
 * the file at once; the file only appears under its name once complete ({@link NpyWriter}).
 */
public final class FeatureEmbedding {
    /** Which backbone level is pooled: one of C2..C5, or all four concatenated in that order. */
    public enum Level {
        C2, C3, C4, C5, ALL;

        /** The level named {@code name} (c2, c3, c4, c5 or all, any case). */
        public static Level parse(String name) {
            if (name != null) {
                for (Level l : values()) if (l.label().equals(name.trim().toLowerCase(Locale.ROOT))) return l;
            }
            throw new IllegalArgumentException("unknown level '" + name + "' (c2, c3, c4, c5 or all)");
        }

        /** The level's name as users write it: c2 .. c5, all. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * What {@link #write} wrote.
     *
     * @param features the (rows, columns) float32 file
     * @param labels   the (rows) int64 labels file, or null when the data has no labels
     * @param seconds  wall time of the whole embedding
     */
    public record Result(Path features, Path labels, int rows, long columns, double seconds) {}

    /** Receives one batch of pooled features: {@code rows} (B, C) float32 CPU, valid only during the call. */
    @FunctionalInterface
    public interface BatchSink {
        void accept(int from, Tensor rows) throws IOException;
    }

    private FeatureEmbedding() {}

    /**
     * The backbone of a loaded checkpoint, checked to be one this class can embed with (ResNet or ConvNeXt);
     * anything else fails with a message naming {@code source} and the model's kind.
     */
    public static Backbone backbone(ConfiguredModule model, String source) {
        if (!(model instanceof ResNet) && !(model instanceof ConvNeXt))
            throw new IllegalArgumentException(source + " holds a '" + model.config().kind() + "' model, not a backbone (resnet or convnext)");
        return (Backbone) model;
    }

    /** Columns of the pooled features at {@code level}: its channel count, or the sum over C2..C5 for ALL. */
    public static long columns(Backbone backbone, Level level) {
        long[] c = backbone.featureChannels();
        return level == Level.ALL ? c[0] + c[1] + c[2] + c[3] : c[level.ordinal()];
    }

    /**
     * The pooled features (B, C) of a batch of images: the spatial mean of the level's map, or of C2..C5
     * concatenated along channels for ALL. C5 goes through {@link Backbone#pooledFeatures}, the probe's
     * own call. Call it in eval mode without gradients for frozen features.
     */
    public static Tensor pool(Backbone backbone, Tensor images, Level level) {
        if (level == Level.C5) return backbone.pooledFeatures(images);
        List<FeatureMap> maps = backbone.features(images);
        if (level != Level.ALL) return maps.get(level.ordinal()).tensor().mean(2, 3);
        List<Tensor> pooled = new ArrayList<>(maps.size());
        for (FeatureMap m : maps) pooled.add(m.tensor().mean(2, 3));
        return torch.cat(EvalSupport.vector(pooled), 1);
    }

    /**
     * Runs the frozen backbone (eval mode, no gradients) over the images at {@code indices}, {@code batchSize} per
     * forward, and hands each batch's pooled features to {@code sink} in order, with the position of its first
     * row. Each batch lives in its own native scope, closed after the sink returns. A progress bar named
     * {@code progressLabel} counts the batches.
     */
    public static void forEachBatch(ConfiguredModule model, ImageDataset data, int[] indices, int batchSize, Level level,
            String progressLabel, BatchSink sink) throws IOException {
        TorchRuntime.init();
        Backbone b = EvalSupport.backbone(model);
        if (data.channels() != b.inChannels())
            throw new IllegalArgumentException("images have " + data.channels() + " channels, the backbone expects " + b.inChannels());
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be > 0, got " + batchSize);
        if (indices.length == 0) throw new IllegalArgumentException("no images");
        model.eval();
        int n = indices.length;
        try (Progress bar = Progress.start(progressLabel, (n + batchSize - 1) / batchSize, 0, "batch")) {
            for (int from = 0; from < n; from += batchSize) {
                int[] idx = Arrays.copyOfRange(indices, from, Math.min(n, from + batchSize));
                try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                    sink.accept(from, pool(b, data.toTensor(idx), level));
                }
                bar.step(null);
            }
        }
    }

    /** Images (count, C, H, W) with pixels in [-1, 1], as {@link ImageDataset#toTensor} gives them; {@code from} is the first one's position. */
    @FunctionalInterface
    public interface ImageSource {
        Tensor images(int from, int count);
    }

    /**
     * The pooled C5 features (n, C) of {@code n} images drawn from {@code source} in batches of {@code batchSize},
     * computed as {@link Classifier#pooledFeatures} computes them for a dataset (eval mode, no gradients, one
     * native scope per batch): for images that do not come from a dataset, such as a generator's samples. The
     * caller owns (and closes) the tensor.
     */
    public static Tensor pooledFeatures(ConfiguredModule model, ImageSource source, int n, int batchSize, String progressLabel) {
        TorchRuntime.init();
        Backbone b = EvalSupport.backbone(model);
        if (n <= 0) throw new IllegalArgumentException("no images");
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be > 0, got " + batchSize);
        model.eval();
        // Allocated before the per-batch scopes so that they do not free it.
        Tensor out = torch.zeros(n, b.featureChannels()[3]);
        try (Progress bar = Progress.start(progressLabel, (n + batchSize - 1) / batchSize, 0, "batch")) {
            for (int from = 0; from < n; from += batchSize) {
                int count = Math.min(batchSize, n - from);
                try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                    Tensor images = source.images(from, count);
                    if (images.dim() != 4 || images.size(0) != count || images.size(1) != b.inChannels())
                        throw new IllegalArgumentException("the image source gave a batch of shape " + Arrays.toString(images.sizes().vec().get())
                                + ", expected [" + count + ", " + b.inChannels() + ", H, W]");
                    out.narrow(0, from, count).copy_(b.pooledFeatures(images));
                }
                bar.step(null);
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /**
     * Writes the pooled features of every image of {@code data} to {@code out} as float32 (N, C), and, when
     * the data has labels, the labels to {@link #labelsFile(Path) labelsFile(out)} as int64 (N). Both files are
     * written to temporary files first and renamed into place once every row is written, the labels just before
     * the features; a failure before that leaves no temporary file behind and files already under those names
     * as they were.
     */
    public static Result write(ConfiguredModule model, ImageDataset data, Level level, int batchSize, Path out) throws IOException {
        long t0 = System.nanoTime();
        Backbone b = EvalSupport.backbone(model);
        if (data.size() == 0) throw new IllegalArgumentException("no images to embed");
        if (data.channels() != b.inChannels())
            throw new IllegalArgumentException("images have " + data.channels() + " channels, the backbone expects " + b.inChannels());
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be > 0, got " + batchSize);
        int n = data.size();
        long columns = columns(b, level);
        Path labelsOut = data.hasLabels() ? labelsFile(out) : null;
        try (NpyWriter features = NpyWriter.open(out, NpyWriter.DType.FLOAT32, n, columns);
                NpyWriter labels = labelsOut == null ? null : NpyWriter.open(labelsOut, NpyWriter.DType.INT64, n)) {
            forEachBatch(model, data, data.allIndices(), batchSize, level, "embed " + level.label(), (from, rows) -> {
                long expected = Math.min(n, from + batchSize) - from;
                if (rows.dim() != 2 || rows.size(0) != expected || rows.size(1) != columns)
                    throw new IllegalStateException("the features of images " + from + ".." + (from + expected - 1) + " have shape "
                            + Arrays.toString(rows.sizes().vec().get()) + ", expected [" + expected + ", " + columns + "]");
                Tensor c = rows.to(torch.ScalarType.Float).contiguous();
                float[] values = new float[Math.toIntExact(c.numel())];
                c.data_ptr_float().get(values);
                features.writeFloats(values, 0, values.length);
            });
            if (labels != null) {
                int[] y = data.labels();
                long[] chunk = new long[Math.min(n, 1 << 14)];
                for (int from = 0; from < n; from += chunk.length) {
                    int len = Math.min(chunk.length, n - from);
                    for (int j = 0; j < len; j++) chunk[j] = y[from + j];
                    labels.writeLongs(chunk, 0, len);
                }
                labels.commit();
            }
            features.commit();
        }
        return new Result(out, labelsOut, n, columns, (System.nanoTime() - t0) / 1e9);
    }

    /** Where {@link #write} puts the labels of {@code out}: {@code NAME.npy} gives {@code NAME.labels.npy}. */
    public static Path labelsFile(Path out) {
        String name = out.getFileName().toString();
        String stem = name.toLowerCase(Locale.ROOT).endsWith(".npy") ? name.substring(0, name.length() - 4) : name;
        return out.resolveSibling(stem + ".labels.npy");
    }
}
