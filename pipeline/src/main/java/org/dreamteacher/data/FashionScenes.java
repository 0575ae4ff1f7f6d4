package org.dreamteacher.data;

import java.util.ArrayList;
import java.util.List;

/**
 * "Fashion-MNIST scenes", the project's segmentation task (docs/design.md section 5): grey canvases (64x64 by
 * default) with 1 to 4 Fashion-MNIST items pasted at random positions, and a label map giving each pixel the
 * class of the item that shows there. It gives the dense evaluation the paper emphasises on data this
 * machine can afford.
 *
 * <p>Rules, all fixed here so that scenes can be regenerated from a seed alone:
 * <ul>
 *   <li>Scene i uses its own generator seeded with {@code SeededRandom.mix(seed, i)}: the item count is
 *       uniform in [minItems, maxItems], each item is drawn uniformly (with replacement) from the source
 *       dataset and placed uniformly so that its whole 28x28 box lies inside the canvas. Scene i is therefore
 *       the same whatever the number of scenes generated.</li>
 *   <li>Items are pasted in order, later over earlier: where an item's pixel is above the threshold (default
 *       51, i.e. 0.2 on a 0..1 scale) it replaces the canvas pixel and its label; where it is not, the canvas
 *       keeps the brighter of the two values and its label, so a faint item border never hides an earlier
 *       item.</li>
 *   <li>Label = item class + 1 on pixels above the threshold, 0 = background elsewhere; so a pixel is
 *       labelled foreground exactly when its value is above the threshold, and 11 classes in all.</li>
 *   <li>Train scenes are made from training items and test scenes from test items (the caller passes the
 *       split); the background is black (0), as in Fashion-MNIST.</li>
 * </ul>
 */
public final class FashionScenes {
    /** Background plus the 10 Fashion-MNIST classes. */
    public static final int NUM_CLASSES = 11;

    /**
     * @param size      canvas height and width (at least the items' size)
     * @param minItems  fewest items per scene (at least 1)
     * @param maxItems  most items per scene
     * @param threshold item pixels strictly above this 0..255 value are foreground
     */
    public record Options(int size, int minItems, int maxItems, int threshold) {
        /** 64x64 canvases, 1-4 items, threshold 51 (0.2). */
        public static final Options DEFAULT = new Options(64, 1, 4, 51);

        public Options {
            if (minItems < 1 || maxItems < minItems) throw new IllegalArgumentException("need 1 <= minItems <= maxItems: " + minItems + ", " + maxItems);
            if (threshold < 0 || threshold > 254) throw new IllegalArgumentException("threshold must be in 0..254: " + threshold);
            if (size <= 0) throw new IllegalArgumentException("size must be positive: " + size);
        }
    }

    /** Where one item went: the source image index, its class (0..9, not shifted), and its top-left corner. */
    public record Placement(int sourceIndex, int itemClass, int x, int y) {}

    private final ImageDataset items;
    private final Options options;
    private final long seed;

    /**
     * @param items a labelled 1-channel dataset (Fashion-MNIST's train or test split); the scenes have its
     *              numClasses + 1 classes
     */
    public FashionScenes(ImageDataset items, Options options, long seed) {
        if (!items.hasLabels() || items.channels() != 1 || items.size() == 0)
            throw new IllegalArgumentException("scenes need a non-empty labelled 1-channel item dataset, not " + items);
        if (items.height() > options.size() || items.width() > options.size())
            throw new IllegalArgumentException(items.height() + " x " + items.width() + " items do not fit a " + options.size() + " canvas");
        if (items.numClasses() + 1 > 256) throw new IllegalArgumentException("too many item classes: " + items.numClasses());
        this.items = items;
        this.options = options;
        this.seed = seed;
    }

    public FashionScenes(ImageDataset items, long seed) {
        this(items, Options.DEFAULT, seed);
    }

    /** Background + the items' classes (11 for Fashion-MNIST). */
    public int numClasses() {
        return items.numClasses() + 1;
    }

    /** "background" then the items' class names (when known). */
    public List<String> classNames() {
        List<String> names = new ArrayList<>();
        if (items.classNames().isEmpty()) return List.of();
        names.add("background");
        names.addAll(items.classNames());
        return names;
    }

    /** The items of scene {@code scene}, in paste order. */
    public List<Placement> layout(int scene) {
        if (scene < 0) throw new IllegalArgumentException("scene index must be >= 0: " + scene);
        SeededRandom rng = new SeededRandom(SeededRandom.mix(seed, scene));
        int count = rng.nextInt(options.minItems(), options.maxItems());
        List<Placement> out = new ArrayList<>(count);
        for (int k = 0; k < count; k++) {
            int src = rng.nextInt(items.size());
            int x = rng.nextInt(options.size() - items.width() + 1);
            int y = rng.nextInt(options.size() - items.height() + 1);
            out.add(new Placement(src, items.label(src), x, y));
        }
        return out;
    }

    /** Draws scene {@code scene} into {@code image[off..]} (0..255) and {@code labels[off..]} (size x size each). */
    public void render(int scene, byte[] image, byte[] labels, int off) {
        int s = options.size(), ih = items.height(), iw = items.width(), thr = options.threshold();
        java.util.Arrays.fill(image, off, off + s * s, (byte) 0);
        java.util.Arrays.fill(labels, off, off + s * s, (byte) 0);
        byte[] item = new byte[ih * iw];
        for (Placement p : layout(scene)) {
            items.copyImageBytes(p.sourceIndex(), item, 0);
            byte cls = (byte) (p.itemClass() + 1);
            for (int y = 0; y < ih; y++) {
                for (int x = 0; x < iw; x++) {
                    int v = item[y * iw + x] & 0xFF;
                    int at = off + (p.y() + y) * s + p.x() + x;
                    if (v > thr) {
                        image[at] = (byte) v;
                        labels[at] = cls;
                    } else if (v > (image[at] & 0xFF)) {
                        image[at] = (byte) v;
                    }
                }
            }
        }
    }

    /** Scenes 0..count-1 as a segmentation dataset (1 channel, size x size). */
    public SegmentationDataset generate(int count) {
        return generate(0, count);
    }

    /** Scenes first..first+count-1 as a segmentation dataset. */
    public SegmentationDataset generate(int first, int count) {
        int s = options.size();
        int hw = s * s;
        byte[] image = new byte[Math.multiplyExact(count, hw)];
        byte[] labels = new byte[image.length];
        for (int i = 0; i < count; i++) render(first + i, image, labels, i * hw);
        return new SegmentationDataset(ImageDataset.ofBytes(image, count, 1, s, s), labels, numClasses(), classNames());
    }
}
