package org.dreamteacher.data;

/**
 * Training-time augmentation, drawn from a seeded generator per sample so that a resumed run sees the same
 * augmented images. The paper uses horizontal flips only; padding-crop is offered for small images.
 *
 * @param horizontalFlip flip left-right with probability 1/2
 * @param padCrop        pad by this many pixels on each side and crop back to the original size at a random
 *                       offset, i.e. shift by -padCrop..padCrop pixels in each direction; uncovered pixels get
 *                       the background value (-1 in images, class 0 in label maps). 0 disables it.
 */
public record Augmentation(boolean horizontalFlip, int padCrop) {
    /** No augmentation. */
    public static final Augmentation NONE = new Augmentation(false, 0);

    public Augmentation {
        if (padCrop < 0) throw new IllegalArgumentException("padCrop must be >= 0: " + padCrop);
    }

    /** Random horizontal flips only (the paper's setting). */
    public static Augmentation flip() {
        return new Augmentation(true, 0);
    }

    public boolean isIdentity() {
        return !horizontalFlip && padCrop == 0;
    }

    /**
     * Augments one image (c x h x w at {@code img[off..]}, in place) and its optional label map (h x w at
     * {@code map[mapOff..]}, in place; null when there is none) with the same random transform.
     */
    void apply(SeededRandom rng, float[] img, int off, int c, int h, int w, byte[] map, int mapOff) {
        boolean flip = horizontalFlip && rng.nextBoolean();
        int dx = padCrop > 0 ? rng.nextInt(-padCrop, padCrop) : 0;
        int dy = padCrop > 0 ? rng.nextInt(-padCrop, padCrop) : 0;
        if (!flip && dx == 0 && dy == 0) return;
        float[] plane = new float[h * w];
        for (int ch = 0; ch < c; ch++) {
            int base = off + ch * h * w;
            System.arraycopy(img, base, plane, 0, h * w);
            for (int y = 0; y < h; y++) {
                int sy = y + dy;
                for (int x = 0; x < w; x++) {
                    int sx = (flip ? w - 1 - x : x) + dx;
                    img[base + y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? plane[sy * w + sx] : -1f;
                }
            }
        }
        if (map != null) {
            byte[] copy = new byte[h * w];
            System.arraycopy(map, mapOff, copy, 0, h * w);
            for (int y = 0; y < h; y++) {
                int sy = y + dy;
                for (int x = 0; x < w; x++) {
                    int sx = (flip ? w - 1 - x : x) + dx;
                    map[mapOff + y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? copy[sy * w + sx] : 0;
                }
            }
        }
    }
}
