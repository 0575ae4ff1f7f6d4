package org.dreamteacher.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando SE 2017, MIT licence): 28x28 grey images of 10 clothing
 * classes, 60,000 for training and 10,000 for testing. Either the full set from a folder of IDX files (the
 * Debian package {@code dataset-fashion-mnist} installs it in {@link #DEFAULT_DIR}) or the subset embedded in
 * this library (6,000 train / 1,000 test images, 600 / 100 per class), so that the demo needs no set-up.
 */
public final class FashionMnist {
    /** Where Debian's {@code dataset-fashion-mnist} puts the files. */
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    /** Classpath folder of the embedded subset. */
    public static final String SUBSET_RESOURCE = "/org/dreamteacher/assets/fashion-mnist-subset/";
    public static final int NUM_CLASSES = 10;
    public static final int SIZE = 28;
    /** Label index to name, as in the dataset's documentation. */
    public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
            "Sneaker", "Bag", "Ankle boot");

    /** The two splits. */
    public enum Split {
        TRAIN("train"), TEST("t10k");

        final String prefix;

        Split(String prefix) {
            this.prefix = prefix;
        }

        String imagesName() {
            return prefix + "-images-idx3-ubyte";
        }

        String labelsName() {
            return prefix + "-labels-idx1-ubyte";
        }
    }

    private final ImageDataset train;
    private final ImageDataset test;
    private final String source;

    private FashionMnist(ImageDataset train, ImageDataset test, String source) {
        this.train = train;
        this.test = test;
        this.source = source;
    }

    public ImageDataset train() {
        return train;
    }

    public ImageDataset test() {
        return test;
    }

    public ImageDataset split(Split split) {
        return split == Split.TRAIN ? train : test;
    }

    /** Where the data came from: a folder, or "embedded subset". */
    public String source() {
        return source;
    }

    /**
     * Loads both splits from a folder holding {@code {train,t10k}-{images-idx3,labels-idx1}-ubyte}, each raw or
     * with a {@code .gz} suffix.
     */
    public static FashionMnist load(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new DataException(dir, "no such folder (install the Debian package dataset-fashion-mnist, "
                + "or copy the Fashion-MNIST IDX files there)");
        return new FashionMnist(load(dir, Split.TRAIN), load(dir, Split.TEST), dir.toString());
    }

    /** Loads one split from a folder (see {@link #load(Path)}). */
    public static ImageDataset load(Path dir, Split split) throws IOException {
        IdxArray images = IdxReader.read(find(dir, split.imagesName()));
        IdxArray labels = IdxReader.read(find(dir, split.labelsName()));
        return fromIdx(images, labels, dir.resolve(split.imagesName()).toString());
    }

    /** Whether {@code dir} holds all four files. */
    public static boolean isInstalled(Path dir) {
        for (Split s : Split.values())
            for (String name : new String[] {s.imagesName(), s.labelsName()})
                if (!Files.isRegularFile(dir.resolve(name + ".gz")) && !Files.isRegularFile(dir.resolve(name))) return false;
        return true;
    }

    /** The subset shipped in the library's resources. */
    public static FashionMnist embeddedSubset() throws IOException {
        return new FashionMnist(embedded(Split.TRAIN), embedded(Split.TEST), "embedded subset");
    }

    /** The full set from {@link #DEFAULT_DIR} when it is installed, the embedded subset otherwise. */
    public static FashionMnist fullOrEmbedded() throws IOException {
        return isInstalled(DEFAULT_DIR) ? load(DEFAULT_DIR) : embeddedSubset();
    }

    private static ImageDataset embedded(Split split) throws IOException {
        IdxArray images = resource(split.imagesName() + ".gz");
        IdxArray labels = resource(split.labelsName() + ".gz");
        return fromIdx(images, labels, "classpath:" + SUBSET_RESOURCE + split.imagesName() + ".gz");
    }

    private static IdxArray resource(String name) throws IOException {
        String path = SUBSET_RESOURCE + name;
        try (InputStream in = FashionMnist.class.getResourceAsStream(path)) {
            if (in == null) throw new DataException("classpath:" + path, "missing from the class path (the embedded subset ships in org.dreamteacher:dreamteacher-assets)");
            return IdxReader.read(in, "classpath:" + path);
        }
    }

    private static Path find(Path dir, String name) throws DataException {
        Path gz = dir.resolve(name + ".gz");
        if (Files.isRegularFile(gz)) return gz;
        Path raw = dir.resolve(name);
        if (Files.isRegularFile(raw)) return raw;
        throw new DataException(dir, "neither " + name + ".gz nor " + name + " is there");
    }

    /**
     * Checks a Fashion-MNIST pair (N x 28 x 28 unsigned-byte images, N unsigned-byte labels below 10) and
     * makes the dataset.
     */
    static ImageDataset fromIdx(IdxArray images, IdxArray labels, String source) throws CorruptDataException {
        if (images.type() != IdxArray.UNSIGNED_BYTE || images.rank() != 3 || images.dim(1) != SIZE || images.dim(2) != SIZE)
            throw new CorruptDataException(source, "expected N x 28 x 28 unsigned bytes, got " + images);
        if (labels.type() != IdxArray.UNSIGNED_BYTE || labels.rank() != 1 || labels.dim(0) != images.dim(0))
            throw new CorruptDataException(source, "expected " + images.dim(0) + " unsigned-byte labels, got " + labels);
        int n = images.dim(0);
        int[] l = new int[n];
        for (int i = 0; i < n; i++) {
            l[i] = labels.get(i);
            if (l[i] >= NUM_CLASSES) throw new CorruptDataException(source, "label " + l[i] + " of image " + i + " is not a class 0..9");
        }
        return ImageDataset.ofBytes(images.data(), n, 1, SIZE, SIZE, l, NUM_CLASSES, CLASS_NAMES);
    }

    /** Writes a dataset of 28x28 grey labelled images as the IDX pair of {@code split} (gzip) into {@code dir}. */
    public static void write(ImageDataset data, Path dir, Split split) throws IOException {
        if (data.channels() != 1 || data.height() != SIZE || data.width() != SIZE || !data.hasLabels())
            throw new IllegalArgumentException("Fashion-MNIST files hold labelled 1 x 28 x 28 images, not " + data);
        int n = data.size();
        byte[] pixels = new byte[n * SIZE * SIZE];
        for (int i = 0; i < n; i++) data.copyImageBytes(i, pixels, i * SIZE * SIZE);
        byte[] labels = new byte[n];
        for (int i = 0; i < n; i++) labels[i] = (byte) data.label(i);
        IdxWriter.writeUnsignedBytes(dir.resolve(split.imagesName() + ".gz"), new int[] {n, SIZE, SIZE}, pixels, true);
        IdxWriter.writeUnsignedBytes(dir.resolve(split.labelsName() + ".gz"), new int[] {n}, labels, true);
    }
}
