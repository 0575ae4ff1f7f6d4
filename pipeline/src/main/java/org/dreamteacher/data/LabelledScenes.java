package org.dreamteacher.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The labelled scenes of a label-guided pretraining on Fashion-MNIST scenes: the first {@code count} scenes that
 * {@link FashionScenes} renders from the data's training items with {@code options} and generator seed
 * {@code seed}. The pretraining writes it ({@code labelled-scenes.json}); {@code segment --labelled} reads it and
 * trains on exactly those scenes, since a scene depends only on the items, the options, the seed and its index.
 *
 * @param data        the data set of the items, as the command line describes it
 * @param trainImages how many training items the data set has
 * @param options     the scenes' size, item counts and mask threshold
 * @param seed        the run's seed, from which the scene generator's seed is derived
 * @param count       the labelled scenes: scenes 0..count-1
 * @param fingerprint {@link ImageDataset#fingerprint()} of the labelled scenes' images, as the pretraining rendered them
 */
public record LabelledScenes(String data, int trainImages, FashionScenes.Options options, long seed, int count, String fingerprint) {
    /** The file name a run folder holds it under. */
    public static final String FILE = "labelled-scenes.json";

    public LabelledScenes {
        if (data == null || options == null || fingerprint == null) throw new IllegalArgumentException("data, options and fingerprint are required");
        if (count < 1) throw new IllegalArgumentException("count must be >= 1, got " + count);
        if (trainImages < 1) throw new IllegalArgumentException("trainImages must be >= 1, got " + trainImages);
    }

    /** The record of the first {@code count} scenes of {@code scenes}, rendered with {@code options} and {@code seed}. */
    public static LabelledScenes of(String data, int trainImages, FashionScenes.Options options, long seed, SegmentationDataset scenes, int count) {
        if (count < 1 || count > scenes.size()) throw new IllegalArgumentException("count must be in 1.." + scenes.size() + ", got " + count);
        int[] first = new int[count];
        for (int i = 0; i < count; i++) first[i] = i;
        return new LabelledScenes(data, trainImages, options, seed, count, scenes.subset(first).images().fingerprint());
    }

    /**
     * Whether {@code drawn}, an evaluation's own training scenes from {@code trainItems} with {@code options}, are
     * exactly the scenes this file describes (the same count, options and pixels).
     */
    public boolean matches(ImageDataset trainItems, FashionScenes.Options options, SegmentationDataset drawn) {
        return trainItems.size() == trainImages && this.options.equals(options) && drawn.size() == count
                && drawn.images().fingerprint().equals(fingerprint);
    }

    /** Writes it as JSON, atomically (a reader never sees half a file). */
    public void write(Path file) throws IOException {
        JsonRecords.write(file, this);
    }

    /** Reads one written by {@link #write}; a malformed file gives an {@link IOException} naming it. */
    public static LabelledScenes read(Path file) throws IOException {
        return JsonRecords.read(file, LabelledScenes.class, "labelled-scenes");
    }

    @Override
    public String toString() {
        return count + " labelled scenes (" + options.size() + " px, " + options.minItems() + "-" + options.maxItems() + " items of " + data
                + ", seed " + seed + ")";
    }
}
