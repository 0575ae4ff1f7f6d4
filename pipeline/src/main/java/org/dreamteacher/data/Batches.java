package org.dreamteacher.data;

import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.CpuTensors;

/**
 * Mini-batches over a dataset with a seeded order per epoch. The order of epoch e depends only on (seed, e),
 * and each sample's augmentation only on (seed, e, its position in the epoch), so a run resumed at epoch e,
 * step k sees exactly the batches an uninterrupted run would have seen.
 *
 * <p>Tensors are made per batch (float32 images in [-1, 1]; int64 class labels (B) for a labelled
 * {@link ImageDataset}, int64 label maps (B, H, W) for a {@link SegmentationDataset}, null for unlabelled
 * data). They are ordinary CPU tensors: create batches inside the training step's {@code PointerScope}.
 */
public final class Batches implements Iterable<Batches.Batch> {

    /**
     * One mini-batch. {@code labels} is null for unlabelled data. A batch of a {@link #shard sharded} view is
     * rows {@code [offset, offset + indices.length)} of a global batch of {@code globalSize} rows; an ordinary
     * batch has offset 0 and globalSize {@code indices.length}.
     */
    public record Batch(int epoch, int step, int[] indices, Tensor images, Tensor labels, int offset, int globalSize) {
        public Batch(int epoch, int step, int[] indices, Tensor images, Tensor labels) {
            this(epoch, step, indices, images, labels, 0, indices.length);
        }
    }

    private final ImageDataset images;
    private final SegmentationDataset segmentation;
    private final int[] indices;
    private final int batchSize;
    private final long seed;
    private final boolean shuffle;
    private final boolean dropLast;
    private final Augmentation augmentation;
    private final int shardRank;
    private final int shardCount;

    private Batches(Builder b) {
        this.images = b.images;
        this.segmentation = b.segmentation;
        this.indices = b.indices != null ? b.indices.clone() : b.images.allIndices();
        for (int i : indices)
            if (i < 0 || i >= images.size()) throw new IndexOutOfBoundsException("index " + i + " outside 0.." + (images.size() - 1));
        if (b.batchSize <= 0) throw new IllegalArgumentException("batch size must be positive: " + b.batchSize);
        this.batchSize = b.batchSize;
        this.seed = b.seed;
        this.shuffle = b.shuffle;
        this.dropLast = b.dropLast;
        this.augmentation = b.augmentation;
        this.shardRank = 0;
        this.shardCount = 1;
        if (stepsPerEpoch() == 0)
            throw new IllegalArgumentException(indices.length + " samples make no batch of " + batchSize + (dropLast ? " with dropLast" : ""));
    }

    private Batches(Batches global, int rank, int count) {
        this.images = global.images;
        this.segmentation = global.segmentation;
        this.indices = global.indices;
        this.batchSize = global.batchSize;
        this.seed = global.seed;
        this.shuffle = global.shuffle;
        this.dropLast = global.dropLast;
        this.augmentation = global.augmentation;
        this.shardRank = rank;
        this.shardCount = count;
    }

    /**
     * The share of rank {@code rank} of {@code count} ranks in data-parallel training: the same epoch-seeded
     * global order and steps, but each batch holds only the rank's contiguous {@code batchSize / count} rows of
     * the global batch (augmented as in the global batch). The ranks' batches of a step together are exactly the
     * global batch, so averaging their equal-sized shards' mean losses gives the global mean. Needs
     * {@code dropLast} (every global batch full) and a batch size divisible by {@code count}.
     */
    public Batches shard(int rank, int count) {
        if (shardCount != 1) throw new IllegalStateException("these batches are already a shard");
        if (count < 1 || rank < 0 || rank >= count) throw new IllegalArgumentException("rank " + rank + " outside 0.." + (count - 1));
        if (count == 1) return this;
        if (!dropLast) throw new IllegalArgumentException("sharded batches need dropLast (equal shards in every step)");
        if (batchSize % count != 0)
            throw new IllegalArgumentException("the batch size " + batchSize + " is not divisible by the world size " + count
                    + ": each rank must get an equal share of the global batch");
        return new Batches(this, rank, count);
    }

    /** The rows of one global batch that this view yields (the batch size unless sharded). */
    public int localBatchSize() {
        return batchSize / shardCount;
    }

    /** Batches of an image dataset (class labels if it has them). */
    public static Builder of(ImageDataset data) {
        return new Builder(data, null);
    }

    /** Batches of a segmentation dataset (label maps as labels). */
    public static Builder of(SegmentationDataset data) {
        return new Builder(data.images(), data);
    }

    /** Options; defaults: every index, batch 64, seed 0, shuffled, last partial batch kept, no augmentation. */
    public static final class Builder {
        private final ImageDataset images;
        private final SegmentationDataset segmentation;
        private int[] indices;
        private int batchSize = 64;
        private long seed;
        private boolean shuffle = true;
        private boolean dropLast;
        private Augmentation augmentation = Augmentation.NONE;

        private Builder(ImageDataset images, SegmentationDataset segmentation) {
            this.images = images;
            this.segmentation = segmentation;
        }

        /** Restricts batches to these dataset indices (a labelled subset, say). */
        public Builder indices(int[] indices) {
            this.indices = indices.clone();
            return this;
        }

        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder shuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        /** Drops the last, smaller batch of each epoch (useful with BatchNorm). */
        public Builder dropLast(boolean dropLast) {
            this.dropLast = dropLast;
            return this;
        }

        public Builder augmentation(Augmentation augmentation) {
            this.augmentation = augmentation == null ? Augmentation.NONE : augmentation;
            return this;
        }

        public Batches build() {
            return new Batches(this);
        }
    }

    /** The samples these batches draw from (all of them over the epochs, even when {@code dropLast} skips a few per epoch). */
    public int samples() {
        return indices.length;
    }

    /** The dataset indices these batches draw from, in their given order. */
    public int[] sampleIndices() {
        return indices.clone();
    }

    /** The images these batches draw from, unaugmented (null for a segmentation dataset's batches). */
    public ImageDataset imageDataset() {
        return segmentation == null ? images : null;
    }

    /** The samples one epoch visits. */
    public int samplesPerEpoch() {
        return dropLast ? stepsPerEpoch() * batchSize : indices.length;
    }

    public int stepsPerEpoch() {
        return dropLast ? indices.length / batchSize : (indices.length + batchSize - 1) / batchSize;
    }

    public int batchSize() {
        return batchSize;
    }

    /** The dataset indices in the order epoch {@code epoch} visits them. */
    public int[] order(int epoch) {
        int[] order = indices.clone();
        if (shuffle) new SeededRandom(SeededRandom.mix(seed, SeedStreams.BATCH_ORDER, epoch)).shuffle(order);
        return order;
    }

    /** The dataset indices of batch {@code step} of epoch {@code epoch}. */
    public int[] indices(int epoch, int step) {
        return batchIndices(order(epoch), step);
    }

    private int[] batchIndices(int[] order, int step) {
        if (step < 0 || step >= stepsPerEpoch()) throw new IndexOutOfBoundsException("step " + step + " outside 0.." + (stepsPerEpoch() - 1));
        int from = step * batchSize;
        return Arrays.copyOfRange(order, from, Math.min(order.length, from + batchSize));
    }

    /** Batch {@code step} of epoch {@code epoch}, augmented. */
    public Batch batch(int epoch, int step) {
        return materialise(epoch, step, batchIndices(order(epoch), step));
    }

    private Batch materialise(int epoch, int step, int[] global) {
        if (shardCount == 1) return materialise(epoch, step, global, 0, global.length);
        int per = global.length / shardCount;
        return materialise(epoch, step, Arrays.copyOfRange(global, shardRank * per, (shardRank + 1) * per), shardRank * per, global.length);
    }

    private Batch materialise(int epoch, int step, int[] idx, int offset, int globalSize) {
        int c = images.channels(), h = images.height(), w = images.width(), per = c * h * w, hw = h * w;
        float[] pixels = new float[Math.multiplyExact(idx.length, per)];
        byte[] maps = segmentation == null ? null : new byte[Math.multiplyExact(idx.length, hw)];
        for (int j = 0; j < idx.length; j++) {
            images.copyImage(idx[j], pixels, j * per);
            if (maps != null) segmentation.copyLabelMap(idx[j], maps, j * hw);
            if (!augmentation.isIdentity()) {
                long position = (long) step * batchSize + offset + j;
                SeededRandom rng = new SeededRandom(SeededRandom.mix(seed, SeedStreams.AUGMENTATION, epoch, position));
                augmentation.apply(rng, pixels, j * per, c, h, w, maps, j * hw);
            }
        }
        Tensor x = CpuTensors.floats(pixels, idx.length, c, h, w);
        Tensor y = null;
        if (maps != null) {
            long[] l = new long[maps.length];
            for (int k = 0; k < l.length; k++) l[k] = maps[k] & 0xFF;
            y = CpuTensors.longs(l, idx.length, h, w);
        } else if (images.hasLabels()) {
            y = images.labelsTensor(idx);
        }
        return new Batch(epoch, step, idx, x, y, offset, globalSize);
    }

    /** Epoch 0 from its first step; see {@link #epoch(int, int)}. */
    @Override
    public Iterator<Batch> iterator() {
        return epoch(0, 0);
    }

    /** The batches of epoch {@code epoch} from step {@code fromStep} on (resume support). */
    public Iterator<Batch> epoch(int epoch, int fromStep) {
        if (fromStep < 0 || fromStep > stepsPerEpoch()) throw new IndexOutOfBoundsException("step " + fromStep);
        int[] order = order(epoch);
        return new Iterator<>() {
            private int step = fromStep;

            @Override
            public boolean hasNext() {
                return step < stepsPerEpoch();
            }

            @Override
            public Batch next() {
                if (!hasNext()) throw new NoSuchElementException();
                int s = step++;
                return materialise(epoch, s, batchIndices(order, s));
            }
        };
    }

    /** All batches of one epoch. */
    public Iterable<Batch> epoch(int epoch) {
        return () -> epoch(epoch, 0);
    }
}
