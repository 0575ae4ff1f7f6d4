package org.dreamteacher.distill;

import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.features.FeatureManifest;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.TeacherInput;

/**
 * Targets read from a {@link FeatureStore}: the stored features of the batch's image indices.
 *
 * <p>Stored features belong to the images as they were encoded. A batch whose images were flipped or cropped
 * would be paired with the features of the unaugmented image, teaching the student a wrong correspondence.
 * {@code Batches} does not say which samples it augmented, so every batch is checked instead: its images must
 * equal the stored images (synthetic and generated stores) or the dataset's images (encoded stores) at its indices. That
 * check costs a comparison of the batch with itself and also catches a store made from another dataset or
 * in another index order. Build the batches with {@code Augmentation.NONE}, or use {@link OnlineFeatures}
 * to train with augmentation.
 */
public final class StoredFeatures implements FeatureSource {
    private final FeatureStore store;
    private final ImageDataset data;

    /**
     * For an encoded store: {@code data} must be the dataset it was encoded from (checked by fingerprint). For a
     * synthetic store {@code data} may be null (the stored images are the reference).
     */
    public StoredFeatures(FeatureStore store, ImageDataset data) {
        if (store == null) throw new IllegalArgumentException("store is null");
        FeatureManifest m = store.manifest();
        if (!store.hasImages()) {
            if (data == null) throw new IllegalArgumentException(store.dir() + " stores features only: give the dataset it was encoded from");
            if (data.size() != store.size())
                throw new IllegalArgumentException("the dataset has " + data.size() + " images, " + store.dir() + " was encoded from " + store.size());
            String fp = FeatureStore.datasetFingerprint(data);
            if (!fp.equals(m.datasetFingerprint()))
                throw new IllegalArgumentException(store.dir() + " was encoded from another dataset (fingerprint " + m.datasetFingerprint()
                        + ", this one has " + fp + ")");
        }
        this.store = store;
        this.data = store.hasImages() ? null : data;
    }

    /** For a synthetic store, whose chunks hold the images. */
    public StoredFeatures(FeatureStore store) {
        this(store, null);
    }

    public FeatureStore store() {
        return store;
    }

    @Override
    public List<FeatureMap> features(Batches.Batch batch, long step) {
        int[] indices = batch.indices();
        try (PointerScope scope = new PointerScope()) {
            Tensor reference = data != null ? data.toTensor(indices) : store.images(indices);
            if (!reference.equal(batch.images())) {
                int first = -1;
                for (int j = 0; j < indices.length && first < 0; j++)
                    if (!reference.select(0, j).equal(batch.images().select(0, j))) first = indices[j];
                throw new IllegalStateException("batch " + batch.step() + " of epoch " + batch.epoch() + ": image " + first
                        + " differs from the one its features were computed from. Stored features cannot follow random flips or crops:"
                        + " build the Batches with Augmentation.NONE, or use OnlineFeatures to train with augmentation");
            }
        }
        return store.features(indices);
    }

    @Override
    public TeacherInput teacherInput() {
        return store.manifest().teacherInput();
    }

    @Override
    public String describe() {
        FeatureManifest m = store.manifest();
        return "stored " + m.mode().name().toLowerCase(java.util.Locale.ROOT) + " features " + store.dir() + " ("
                + (m.timestep() >= 0 ? "t = " + m.timestep() + ", " : "") + "seed " + m.seed() + ", " + m.precision().dtypeName() + ")";
    }
}
