package org.dreamteacher.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The labelled images of a run: which share of a data set's labels, drawn with which seed, and their indices. A
 * label-guided pretraining writes it ({@code labelled.json}) and the evaluation of that pretraining reads it, so
 * that both use the same labelled images (docs/design.md section 6).
 *
 * <p>The subset is {@link Splits#balancedSubset}{@code (labels, classes, percent / 100, seed)}, the same function
 * and seed as the evaluation's own draw, so {@link #matches} can check that an evaluation on the same data draws
 * exactly these images.
 *
 * @param data        the data set, as the command line describes it (for error messages and records)
 * @param trainImages how many training images the data set has
 * @param percent     the share of the labels, in percent
 * @param seed        the seed of the draw
 * @param indices     the labelled images, ascending indices into the training images
 */
public record LabelledSubset(String data, int trainImages, double percent, long seed, int[] indices) {
    /** The file name a run folder holds it under. */
    public static final String FILE = "labelled.json";

    public LabelledSubset {
        if (data == null || indices == null) throw new IllegalArgumentException("data and indices are required");
        if (!(percent > 0 && percent <= 100)) throw new IllegalArgumentException("percent must be in (0, 100], got " + percent);
        for (int i : indices) {
            if (i < 0 || i >= trainImages) {
                throw new IllegalArgumentException("labelled index " + i + " is outside the " + trainImages + " training images");
            }
        }
        indices = indices.clone();
    }

    /** Draws the balanced subset of {@code percent} of the labels of {@code train} with {@code seed}. */
    public static LabelledSubset draw(String data, ImageDataset train, double percent, long seed) {
        int[] idx = Splits.balancedSubset(train.labels(), train.numClasses(), percent / 100.0, seed);
        return new LabelledSubset(data, train.size(), percent, seed, idx);
    }

    /** Whether drawing on {@code train} with this subset's share and seed gives exactly these images. */
    public boolean matches(ImageDataset train) {
        return train.size() == trainImages && train.hasLabels()
                && Arrays.equals(indices, Splits.balancedSubset(train.labels(), train.numClasses(), percent / 100.0, seed));
    }

    @Override
    public int[] indices() {
        return indices.clone();
    }

    /** Writes it as JSON, atomically (a reader never sees half a file). */
    public void write(Path file) throws IOException {
        JsonRecords.write(file, this);
    }

    /** Reads one written by {@link #write}; a malformed file gives an {@link IOException} naming it. */
    public static LabelledSubset read(Path file) throws IOException {
        return JsonRecords.read(file, LabelledSubset.class, "labelled-subset");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LabelledSubset l && l.data.equals(data) && l.trainImages == trainImages && l.percent == percent
                && l.seed == seed && Arrays.equals(l.indices, indices);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(indices) + Long.hashCode(seed);
    }

    @Override
    public String toString() {
        return indices.length + " labelled images (" + percent + "% of " + data + ", seed " + seed + ")";
    }
}
