package org.dreamteacher.data;

import java.util.Arrays;

/**
 * The contents of one IDX file: element type, dimensions and the elements in file (row-major) order. Only
 * the one-byte types are held (0x08 unsigned byte, as in MNIST and Fashion-MNIST, and 0x09 signed byte),
 * which keeps every array a plain {@code byte[]}.
 */
public final class IdxArray {
    /** IDX element type 0x08: unsigned byte. */
    public static final int UNSIGNED_BYTE = 0x08;
    /** IDX element type 0x09: signed byte. */
    public static final int SIGNED_BYTE = 0x09;

    private final int type;
    private final int[] dims;
    private final byte[] data;

    /**
     * @param data taken as is (not copied): the product of {@code dims} elements
     * @throws IllegalArgumentException for an unsupported type, a non-positive dimension or a size mismatch
     */
    public IdxArray(int type, int[] dims, byte[] data) {
        if (type != UNSIGNED_BYTE && type != SIGNED_BYTE)
            throw new IllegalArgumentException(String.format("unsupported IDX element type 0x%02X", type));
        if (dims.length < 1 || dims.length > IdxReader.MAX_DIMS)
            throw new IllegalArgumentException("IDX arrays have 1 to " + IdxReader.MAX_DIMS + " dimensions, not " + dims.length);
        long count = 1;
        for (int d : dims) {
            if (d <= 0) throw new IllegalArgumentException("dimensions must be positive: " + Arrays.toString(dims));
            count = Math.multiplyExact(count, d);
        }
        if (count != data.length)
            throw new IllegalArgumentException("dimensions " + Arrays.toString(dims) + " need " + count + " elements, got " + data.length);
        this.type = type;
        this.dims = dims.clone();
        this.data = data;
    }

    public int type() {
        return type;
    }

    public int[] dims() {
        return dims.clone();
    }

    public int dim(int i) {
        return dims[i];
    }

    public int rank() {
        return dims.length;
    }

    public int count() {
        return data.length;
    }

    /** The elements (not a copy: the array belongs to whoever holds this object). */
    public byte[] data() {
        return data;
    }

    /** Element {@code i} as an int: 0..255 for unsigned bytes, -128..127 for signed bytes. */
    public int get(int i) {
        return type == UNSIGNED_BYTE ? data[i] & 0xFF : data[i];
    }

    @Override
    public String toString() {
        return String.format("IdxArray(type 0x%02X, dims %s)", type, Arrays.toString(dims));
    }
}
