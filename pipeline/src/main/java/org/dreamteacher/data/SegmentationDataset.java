package org.dreamteacher.data;

import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.CpuTensors;

/**
 * Images with one class label per pixel (class 0 = background), for the dense evaluation the paper stresses
 * (docs/design.md section 6: mIoU on test scenes). Label maps are bytes, so at most 256 classes.
 */
public final class SegmentationDataset {
    private final ImageDataset images;
    private final byte[] maps;
    private final int numClasses;
    private final List<String> classNames;

    /**
     * @param images     the images (their own labels, if any, are ignored here)
     * @param labelMaps  n x h x w class indices (taken, not copied), each in 0..numClasses-1
     * @param classNames names (index = class), or an empty list
     */
    public SegmentationDataset(ImageDataset images, byte[] labelMaps, int numClasses, List<String> classNames) {
        if (numClasses < 2 || numClasses > 256) throw new IllegalArgumentException("numClasses must be in 2..256: " + numClasses);
        long expected = (long) images.size() * images.height() * images.width();
        if (labelMaps.length != expected)
            throw new IllegalArgumentException("label maps hold " + labelMaps.length + " values, the images need " + expected);
        for (int i = 0; i < labelMaps.length; i++)
            if ((labelMaps[i] & 0xFF) >= numClasses)
                throw new IllegalArgumentException("pixel label " + (labelMaps[i] & 0xFF) + " at " + i + " is outside 0.." + (numClasses - 1));
        if (classNames != null && !classNames.isEmpty() && classNames.size() != numClasses)
            throw new IllegalArgumentException(classNames.size() + " class names for " + numClasses + " classes");
        this.images = images;
        this.maps = labelMaps;
        this.numClasses = numClasses;
        this.classNames = classNames == null ? List.of() : List.copyOf(classNames);
    }

    public ImageDataset images() {
        return images;
    }

    public int size() {
        return images.size();
    }

    public int height() {
        return images.height();
    }

    public int width() {
        return images.width();
    }

    /** Including the background class 0. */
    public int numClasses() {
        return numClasses;
    }

    public List<String> classNames() {
        return classNames;
    }

    /** The class of pixel (y, x) of image i. */
    public int label(int i, int y, int x) {
        int h = height(), w = width();
        if (y < 0 || y >= h || x < 0 || x >= w) throw new IndexOutOfBoundsException("pixel (" + y + ", " + x + ") outside " + h + " x " + w);
        if (i < 0 || i >= size()) fail(i);
        return maps[i * h * w + y * w + x] & 0xFF;
    }

    /** A copy of image i's label map, h x w row-major. */
    public int[] labelMap(int i) {
        int hw = height() * width();
        if (i < 0 || i >= size()) fail(i);
        int[] out = new int[hw];
        for (int k = 0; k < hw; k++) out[k] = maps[i * hw + k] & 0xFF;
        return out;
    }

    void copyLabelMap(int i, byte[] dst, int offset) {
        int hw = height() * width();
        if (i < 0 || i >= size()) fail(i);
        System.arraycopy(maps, i * hw, dst, offset, hw);
    }

    /** The images at {@code indices}: float32 (B, C, H, W) in [-1, 1]. */
    public Tensor toTensor(int[] indices) {
        return images.toTensor(indices);
    }

    /** The label maps at {@code indices}: int64 (B, H, W). */
    public Tensor labelsTensor(int[] indices) {
        int hw = height() * width();
        long[] out = new long[Math.multiplyExact(indices.length, hw)];
        for (int j = 0; j < indices.length; j++) {
            int i = indices[j];
            if (i < 0 || i >= size()) fail(i);
            for (int k = 0; k < hw; k++) out[j * hw + k] = maps[i * hw + k] & 0xFF;
        }
        return CpuTensors.longs(out, indices.length, height(), width());
    }

    /** A new dataset with the given scenes (copied) in the given order. */
    public SegmentationDataset subset(int[] indices) {
        int hw = height() * width();
        byte[] out = new byte[Math.multiplyExact(indices.length, hw)];
        for (int j = 0; j < indices.length; j++) copyLabelMap(indices[j], out, j * hw);
        return new SegmentationDataset(images.subset(indices), out, numClasses, classNames);
    }

    /** How many pixels of each class the whole dataset has. */
    public long[] pixelsPerClass() {
        long[] counts = new long[numClasses];
        for (byte b : maps) counts[b & 0xFF]++;
        return counts;
    }

    private int fail(int i) {
        throw new IndexOutOfBoundsException("image index " + i + " outside 0.." + (size() - 1));
    }
}
