package org.dreamteacher.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.CpuTensors;

/**
 * N images of C x H x W held in one compact Java array (one byte per value for 8-bit sources such as
 * Fashion-MNIST, so the full 60,000-image training set costs 47 MB of heap, or floats), with optional class
 * labels. Everything above it (splits, batches, scenes) addresses images by index, and tensors are made per
 * batch by {@link #toTensor(int[])}, so the dataset never has to live in native memory as a whole.
 *
 * <p>Pixel convention: bytes 0..255 map linearly to [-1, 1] ({@code v / 127.5 - 1}); float datasets hold
 * values already in [-1, 1].
 */
public final class ImageDataset {
    private final int n, c, h, w;
    private final byte[] bytes;
    private final float[] floats;
    private final int[] labels;
    private final int numClasses;
    private final List<String> classNames;
    private String fingerprint;

    private ImageDataset(int n, int c, int h, int w, byte[] bytes, float[] floats, int[] labels, int numClasses,
            List<String> classNames) {
        if (n < 0 || c <= 0 || h <= 0 || w <= 0)
            throw new IllegalArgumentException("bad dataset shape " + n + " x " + c + " x " + h + " x " + w);
        long total = (long) n * c * h * w;
        int length = bytes != null ? bytes.length : floats.length;
        if (total != length)
            throw new IllegalArgumentException(n + " x " + c + " x " + h + " x " + w + " = " + total + " values, the array has " + length);
        if (labels != null) {
            if (labels.length != n) throw new IllegalArgumentException(labels.length + " labels for " + n + " images");
            if (numClasses <= 0) throw new IllegalArgumentException("labelled data needs numClasses > 0");
            for (int i = 0; i < n; i++)
                if (labels[i] < 0 || labels[i] >= numClasses)
                    throw new IllegalArgumentException("label " + labels[i] + " of image " + i + " is outside 0.." + (numClasses - 1));
        }
        if (classNames != null && !classNames.isEmpty() && classNames.size() != numClasses)
            throw new IllegalArgumentException(classNames.size() + " class names for " + numClasses + " classes");
        this.n = n;
        this.c = c;
        this.h = h;
        this.w = w;
        this.bytes = bytes;
        this.floats = floats;
        this.labels = labels;
        this.numClasses = labels == null ? 0 : numClasses;
        this.classNames = classNames == null ? List.of() : List.copyOf(classNames);
    }

    /**
     * 8-bit images. {@code pixels} (taken, not copied) holds n images of c x h x w, row-major; {@code labels}
     * (copied) may be null for unlabelled data, in which case numClasses and classNames are ignored.
     */
    public static ImageDataset ofBytes(byte[] pixels, int n, int c, int h, int w, int[] labels, int numClasses, List<String> classNames) {
        return new ImageDataset(n, c, h, w, pixels, null, labels == null ? null : labels.clone(), numClasses, labels == null ? null : classNames);
    }

    /** Unlabelled 8-bit images. */
    public static ImageDataset ofBytes(byte[] pixels, int n, int c, int h, int w) {
        return ofBytes(pixels, n, c, h, w, null, 0, null);
    }

    /** Float images with values in [-1, 1] ({@code pixels} taken, not copied). */
    public static ImageDataset ofFloats(float[] pixels, int n, int c, int h, int w, int[] labels, int numClasses, List<String> classNames) {
        return new ImageDataset(n, c, h, w, null, pixels, labels == null ? null : labels.clone(), numClasses, labels == null ? null : classNames);
    }

    /**
     * SHA-256 (hex) of the shape, the pixels and the labels: equal for the same images in the same order, so a
     * resumed run can tell that it is given the data set it was started with. Computed once.
     */
    public synchronized String fingerprint() {
        if (fingerprint == null) {
            java.security.MessageDigest md;
            try {
                md = java.security.MessageDigest.getInstance("SHA-256");
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is not available", e);
            }
            java.nio.ByteBuffer head = java.nio.ByteBuffer.allocate(24).putInt(n).putInt(c).putInt(h).putInt(w).putInt(bytes != null ? 1 : 2)
                    .putInt(labels == null ? -1 : numClasses);
            md.update(head.array());
            if (bytes != null) md.update(bytes);
            else {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1 << 16);
                for (float v : floats) {
                    if (!b.hasRemaining()) {
                        md.update(b.array(), 0, b.position());
                        b.clear();
                    }
                    b.putFloat(v);
                }
                md.update(b.array(), 0, b.position());
            }
            if (labels != null) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * labels.length);
                for (int l : labels) b.putInt(l);
                md.update(b.array());
            }
            fingerprint = java.util.HexFormat.of().formatHex(md.digest());
        }
        return fingerprint;
    }

    public int size() {
        return n;
    }

    public int channels() {
        return c;
    }

    public int height() {
        return h;
    }

    public int width() {
        return w;
    }

    /** c x h x w. */
    public int valuesPerImage() {
        return c * h * w;
    }

    /** Whether the pixels are stored as floats (otherwise bytes). */
    public boolean isFloat() {
        return floats != null;
    }

    public boolean hasLabels() {
        return labels != null;
    }

    /** The number of classes, 0 for unlabelled data. */
    public int numClasses() {
        return numClasses;
    }

    /** Class names (index = label), empty when unknown. */
    public List<String> classNames() {
        return classNames;
    }

    public int label(int i) {
        if (labels == null) throw new IllegalStateException("this dataset has no labels");
        return labels[checkIndex(i, n)];
    }

    /** A copy of all labels. */
    public int[] labels() {
        if (labels == null) throw new IllegalStateException("this dataset has no labels");
        return labels.clone();
    }

    /** How many images each class has. */
    public int[] countsPerClass() {
        int[] counts = new int[numClasses];
        if (labels != null) for (int l : labels) counts[l]++;
        return counts;
    }

    /** Image {@code i}'s values in [-1, 1] written to {@code dst[offset ..]}. */
    public void copyImage(int i, float[] dst, int offset) {
        checkIndex(i, n);
        int per = valuesPerImage();
        int base = i * per;
        if (floats != null) {
            System.arraycopy(floats, base, dst, offset, per);
        } else {
            for (int k = 0; k < per; k++) dst[offset + k] = (bytes[base + k] & 0xFF) / 127.5f - 1f;
        }
    }

    /** Image {@code i} as 0..255 values (floats are rounded and clamped) written to {@code dst[offset ..]}. */
    public void copyImageBytes(int i, byte[] dst, int offset) {
        checkIndex(i, n);
        int per = valuesPerImage();
        int base = i * per;
        if (bytes != null) {
            System.arraycopy(bytes, base, dst, offset, per);
        } else {
            for (int k = 0; k < per; k++) dst[offset + k] = (byte) toByte(floats[base + k]);
        }
    }

    /** A new dataset with the given images (copied) in the given order. */
    public ImageDataset subset(int[] indices) {
        int per = valuesPerImage();
        int[] newLabels = labels == null ? null : new int[indices.length];
        long total = (long) indices.length * per;
        if (total > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("subset too large for one array: " + total + " values");
        if (floats != null) {
            float[] out = new float[(int) total];
            for (int j = 0; j < indices.length; j++) {
                int i = checkIndex(indices[j], n);
                System.arraycopy(floats, i * per, out, j * per, per);
                if (newLabels != null) newLabels[j] = labels[i];
            }
            return new ImageDataset(indices.length, c, h, w, null, out, newLabels, numClasses, classNames);
        }
        byte[] out = new byte[(int) total];
        for (int j = 0; j < indices.length; j++) {
            int i = checkIndex(indices[j], n);
            System.arraycopy(bytes, i * per, out, j * per, per);
            if (newLabels != null) newLabels[j] = labels[i];
        }
        return new ImageDataset(indices.length, c, h, w, out, null, newLabels, numClasses, classNames);
    }

    /** The images at {@code indices} as a float32 (B, C, H, W) CPU tensor with values in [-1, 1]. */
    public Tensor toTensor(int[] indices) {
        int per = valuesPerImage();
        float[] out = new float[Math.multiplyExact(indices.length, per)];
        for (int j = 0; j < indices.length; j++) copyImage(indices[j], out, j * per);
        return CpuTensors.floats(out, indices.length, c, h, w);
    }

    /** The labels at {@code indices} as an int64 (B) CPU tensor. */
    public Tensor labelsTensor(int[] indices) {
        if (labels == null) throw new IllegalStateException("this dataset has no labels");
        long[] out = new long[indices.length];
        for (int j = 0; j < indices.length; j++) out[j] = labels[checkIndex(indices[j], n)];
        return CpuTensors.longs(out, indices.length);
    }

    /** 0, 1, ..., size() - 1. */
    public int[] allIndices() {
        int[] all = new int[n];
        Arrays.setAll(all, i -> i);
        return all;
    }

    /** The indices of the images of class {@code k}, ascending. */
    public int[] indicesOfClass(int k) {
        if (labels == null) throw new IllegalStateException("this dataset has no labels");
        List<Integer> list = new ArrayList<>();
        for (int i = 0; i < n; i++) if (labels[i] == k) list.add(i);
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A pixel value in [-1, 1] as the byte 0..255 it was read from (rounded, clamped): the inverse of the loaders' scaling. */
    public static int toByte(float v) {
        int b = Math.round((v + 1f) * 127.5f);
        return b < 0 ? 0 : Math.min(b, 255);
    }

    @Override
    public String toString() {
        return "ImageDataset(" + n + " x " + c + " x " + h + " x " + w + (floats != null ? ", float" : ", uint8")
                + (labels != null ? ", " + numClasses + " classes" : ", unlabelled") + ")";
    }

    private static int checkIndex(int i, int n) {
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException("image index " + i + " outside 0.." + (n - 1));
        return i;
    }
}
