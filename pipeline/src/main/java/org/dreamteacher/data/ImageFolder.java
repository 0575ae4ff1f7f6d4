package org.dreamteacher.data;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * A user's folder of unlabelled PNG and JPEG images turned into an {@link ImageDataset}, for pretraining on
 * one's own pictures (docs/design.md section 5).
 *
 * <ul>
 *   <li>Files: {@code *.png}, {@code *.jpg}, {@code *.jpeg} (any case), searched recursively and sorted by
 *       their path relative to the folder (with '/' separators), so the same folder always gives the same
 *       dataset order. The decoder is chosen from the file's content, not its name.</li>
 *   <li>Colour: converted to the chosen channel count. Grey from colour is the ITU-R BT.601 luma
 *       0.299 R + 0.587 G + 0.114 B on the stored (sRGB) values; grey sources are read from their raster, not
 *       through a colour conversion, so an 8-bit grey PNG keeps its exact values. Transparent pixels are
 *       composited over black (the background of Fashion-MNIST-like data).</li>
 *   <li>Geometry: with {@code centerCrop} (the default) the largest centred region of the target aspect ratio
 *       is taken, otherwise the whole image is stretched. Resizing is separable, per axis: area averaging
 *       (exact box filter with fractional pixel coverage) when shrinking, which does not alias, and bilinear
 *       interpolation with half-pixel centres when enlarging.</li>
 *   <li>Safety: an image's width and height are read from its header before decoding, and images with more
 *       than {@code maxPixels} pixels are refused, so a small file declaring a gigantic image cannot exhaust
 *       memory. Unreadable files raise a {@link CorruptDataException} naming the file, or, with
 *       {@code skipBad}, are skipped with a warning (System.Logger) and listed in {@link #skipped()}. An empty
 *       folder is an error.</li>
 * </ul>
 */
public final class ImageFolder {
    /** The default pixel cap: 2^25 (33.5 megapixels, an 8K frame). */
    public static final long DEFAULT_MAX_PIXELS = 1L << 25;
    private static final System.Logger LOG = System.getLogger(ImageFolder.class.getName());

    /**
     * @param channels   1 (grey) or 3 (RGB)
     * @param height     output height
     * @param width      output width
     * @param centerCrop crop to the output's aspect ratio first (otherwise stretch)
     * @param skipBad    skip unreadable files with a warning instead of failing
     * @param maxPixels  refuse images whose header declares more pixels than this
     */
    public record Options(int channels, int height, int width, boolean centerCrop, boolean skipBad, long maxPixels) {
        public Options {
            if (channels != 1 && channels != 3) throw new IllegalArgumentException("channels must be 1 or 3: " + channels);
            if (height <= 0 || width <= 0) throw new IllegalArgumentException("bad size " + height + " x " + width);
            if (maxPixels <= 0) throw new IllegalArgumentException("maxPixels must be positive: " + maxPixels);
        }

        /** Square output, centre crop, strict, default pixel cap. */
        public static Options of(int channels, int size) {
            return new Options(channels, size, size, true, false, DEFAULT_MAX_PIXELS);
        }

        public Options withSkipBad(boolean skip) {
            return new Options(channels, height, width, centerCrop, skip, maxPixels);
        }

        public Options withCenterCrop(boolean crop) {
            return new Options(channels, height, width, crop, skipBad, maxPixels);
        }

        public Options withMaxPixels(long max) {
            return new Options(channels, height, width, centerCrop, skipBad, max);
        }
    }

    private final ImageDataset dataset;
    private final List<Path> files;
    private final List<Path> skipped;

    private ImageFolder(ImageDataset dataset, List<Path> files, List<Path> skipped) {
        this.dataset = dataset;
        this.files = files;
        this.skipped = skipped;
    }

    /** The images, unlabelled, as bytes. */
    public ImageDataset dataset() {
        return dataset;
    }

    /** The file of each image, in dataset order. */
    public List<Path> files() {
        return files;
    }

    /** Files skipped as unreadable (only with skipBad). */
    public List<Path> skipped() {
        return skipped;
    }

    /** Loads every PNG/JPEG image under {@code dir}. */
    public static ImageFolder load(Path dir, Options options) throws IOException {
        List<Path> candidates = listImages(dir);
        if (candidates.isEmpty()) throw new DataException(dir, "no PNG or JPEG images in this folder (searched recursively)");
        int per = options.channels() * options.height() * options.width();
        long total = (long) candidates.size() * per;
        if (total > Integer.MAX_VALUE - 8)
            throw new DataException(dir, candidates.size() + " images of " + options.channels() + " x " + options.height() + " x "
                    + options.width() + " do not fit one in-memory dataset; choose a smaller size or fewer images");
        byte[] pixels = new byte[(int) total];
        List<Path> loaded = new ArrayList<>();
        List<Path> skipped = new ArrayList<>();
        for (Path file : candidates) {
            try {
                byte[] img = readImage(file, options);
                System.arraycopy(img, 0, pixels, loaded.size() * per, per);
                loaded.add(file);
            } catch (CorruptDataException e) {
                if (!options.skipBad()) throw e;
                LOG.log(System.Logger.Level.WARNING, "skipping " + e.getMessage());
                skipped.add(file);
            }
        }
        if (loaded.isEmpty()) throw new DataException(dir, "none of its " + candidates.size() + " image files could be read");
        byte[] data = loaded.size() == candidates.size() ? pixels : java.util.Arrays.copyOf(pixels, loaded.size() * per);
        ImageDataset ds = ImageDataset.ofBytes(data, loaded.size(), options.channels(), options.height(), options.width());
        return new ImageFolder(ds, Collections.unmodifiableList(loaded), Collections.unmodifiableList(skipped));
    }

    /** The PNG/JPEG files under {@code dir} (recursive), sorted by relative path. */
    public static List<Path> listImages(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new DataException(dir, "no such folder");
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).filter(ImageFolder::hasImageExtension)
                    .sorted(Comparator.comparing((Path p) -> dir.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/")))
                    .collect(Collectors.toList());
        }
    }

    private static boolean hasImageExtension(Path p) {
        String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".png") || name.endsWith(".jpg") || name.endsWith(".jpeg");
    }

    /**
     * Decodes, converts and resizes one image: channels x height x width bytes (row-major per channel).
     *
     * @throws CorruptDataException if the file cannot be decoded or declares more than maxPixels pixels
     */
    public static byte[] readImage(Path file, Options options) throws IOException {
        BufferedImage img;
        try (ImageInputStream iis = ImageIO.createImageInputStream(file.toFile())) {
            if (iis == null) throw new CorruptDataException(file, "cannot be opened as an image stream");
            Iterator<ImageReader> readers = ImageIO.getImageReaders(iis);
            if (!readers.hasNext()) throw new CorruptDataException(file, "not an image ImageIO can read (corrupt, or not PNG/JPEG)");
            ImageReader reader = readers.next();
            try {
                reader.setInput(iis, true, true);
                int w = reader.getWidth(0), h = reader.getHeight(0);
                if (w <= 0 || h <= 0) throw new CorruptDataException(file, "declares an empty image " + w + " x " + h);
                if ((long) w * h > options.maxPixels())
                    throw new CorruptDataException(file, "declares " + w + " x " + h + " = " + (long) w * h
                            + " pixels, more than the limit of " + options.maxPixels() + " (ImageFolder.Options.maxPixels)");
                requireHeapFor(file, reader, w, h);
                img = reader.read(0);
            } catch (DataException e) {
                throw e;
            } catch (IOException | RuntimeException e) {
                throw new CorruptDataException(file.toString(), "cannot be decoded (" + e + ")", e);
            } finally {
                reader.dispose();
            }
        }
        if (img == null) throw new CorruptDataException(file, "the decoder returned no image");
        try {
            return convert(img, options);
        } catch (RuntimeException e) {
            throw new CorruptDataException(file.toString(), "has an unsupported pixel layout (" + e + ")", e);
        }
    }

    /**
     * Refuses an image whose decoded raster would not fit in the free Java heap, so that a small file declaring a
     * large image (under {@code maxPixels}) ends in a clear error instead of an {@code OutOfMemoryError}. The raster
     * takes the decoder's raw bits per pixel (4 bytes per pixel when it does not say).
     */
    private static void requireHeapFor(Path file, ImageReader reader, int w, int h) throws IOException {
        long bytesPerPixel = 4;
        try {
            javax.imageio.ImageTypeSpecifier raw = reader.getRawImageType(0);
            if (raw != null) {
                int bits = 0;
                for (int b = 0; b < raw.getNumBands(); b++) bits += raw.getBitsPerBand(b);
                bytesPerPixel = Math.max(1, (bits + 7) / 8);
            }
        } catch (IOException | RuntimeException unknown) {
            // keep the conservative 4 bytes per pixel
        }
        long need = (long) w * h * bytesPerPixel;
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        if (need > free / 2) {
            System.gc(); // only on this rare path: what looks used may be garbage
            free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        }
        if (need > free / 2)
            throw new DataException(file, "decoding its " + w + " x " + h + " pixels takes about " + (need >> 20) + " MB, more than this JVM's"
                    + " free heap allows (" + (free >> 20) + " MB free): give Java more heap (-Xmx) or use smaller pictures");
    }

    /** Converts a decoded image to channels x height x width bytes. */
    static byte[] convert(BufferedImage img, Options o) {
        int srcW = img.getWidth(), srcH = img.getHeight();
        int x0 = 0, y0 = 0, cw = srcW, ch = srcH;
        if (o.centerCrop()) {
            if ((long) srcW * o.height() > (long) srcH * o.width()) {
                cw = (int) Math.max(1, Math.min(srcW, Math.round((double) srcH * o.width() / o.height())));
                x0 = (srcW - cw) / 2;
            } else {
                ch = (int) Math.max(1, Math.min(srcH, Math.round((double) srcW * o.height() / o.width())));
                y0 = (srcH - ch) / 2;
            }
        }
        int outC = o.channels(), outW = o.width(), outH = o.height();
        Weights wx = Weights.of(cw, outW), wy = Weights.of(ch, outH);
        RowReader rows = new RowReader(img, x0, cw);
        int srcC = rows.grey ? 1 : 3;
        // Horizontal pass, one source row at a time: tmp[c][row][outW].
        float[] tmp = new float[Math.multiplyExact(Math.multiplyExact(outC, ch), outW)];
        float[][] row = new float[srcC][cw];
        float[] conv = new float[cw];
        for (int y = 0; y < ch; y++) {
            rows.read(y0 + y, row);
            for (int c = 0; c < outC; c++) {
                float[] src;
                if (srcC == outC) src = row[c];
                else if (srcC == 1) src = row[0];
                else {
                    for (int x = 0; x < cw; x++) conv[x] = 0.299f * row[0][x] + 0.587f * row[1][x] + 0.114f * row[2][x];
                    src = conv;
                }
                int base = (c * ch + y) * outW;
                for (int ox = 0; ox < outW; ox++) {
                    int[] idx = wx.index[ox];
                    float[] wt = wx.weight[ox];
                    float s = 0;
                    for (int k = 0; k < idx.length; k++) s += wt[k] * src[idx[k]];
                    tmp[base + ox] = s;
                }
            }
        }
        // Vertical pass.
        byte[] out = new byte[outC * outH * outW];
        for (int c = 0; c < outC; c++) {
            for (int oy = 0; oy < outH; oy++) {
                int[] idx = wy.index[oy];
                float[] wt = wy.weight[oy];
                for (int ox = 0; ox < outW; ox++) {
                    float s = 0;
                    for (int k = 0; k < idx.length; k++) s += wt[k] * tmp[(c * ch + idx[k]) * outW + ox];
                    int v = Math.round(s);
                    out[(c * outH + oy) * outW + ox] = (byte) (v < 0 ? 0 : Math.min(v, 255));
                }
            }
        }
        return out;
    }

    /** Per-output-pixel source indices and weights along one axis. */
    private static final class Weights {
        final int[][] index;
        final float[][] weight;

        private Weights(int n) {
            index = new int[n][];
            weight = new float[n][];
        }

        static Weights of(int srcLen, int outLen) {
            Weights w = new Weights(outLen);
            double scale = (double) srcLen / outLen;
            for (int i = 0; i < outLen; i++) {
                if (scale >= 1) {
                    double a = i * scale, b = (i + 1) * scale;
                    int j0 = (int) Math.floor(a), j1 = Math.min(srcLen - 1, (int) Math.ceil(b) - 1);
                    List<Integer> idx = new ArrayList<>();
                    List<Float> wt = new ArrayList<>();
                    for (int j = j0; j <= j1; j++) {
                        double overlap = Math.min(b, j + 1) - Math.max(a, j);
                        if (overlap > 1e-9) {
                            idx.add(j);
                            wt.add((float) (overlap / scale));
                        }
                    }
                    w.index[i] = idx.stream().mapToInt(Integer::intValue).toArray();
                    w.weight[i] = new float[wt.size()];
                    for (int k = 0; k < wt.size(); k++) w.weight[i][k] = wt.get(k);
                } else {
                    double u = Math.max(0, Math.min(srcLen - 1, (i + 0.5) * scale - 0.5));
                    int j0 = (int) Math.floor(u), j1 = Math.min(j0 + 1, srcLen - 1);
                    float f = (float) (u - j0);
                    w.index[i] = new int[] {j0, j1};
                    w.weight[i] = new float[] {1 - f, f};
                }
            }
            return w;
        }
    }

    /** Reads rows of a decoded image as 0..255 floats, grey (1 plane) or RGB (3 planes), alpha over black. */
    private static final class RowReader {
        final BufferedImage img;
        final int x0, w;
        final boolean grey;
        final boolean alpha;
        final float greyScale;
        final int[] samples, alphaSamples, argb;

        RowReader(BufferedImage img, int x0, int w) {
            this.img = img;
            this.x0 = x0;
            this.w = w;
            ColorModel cm = img.getColorModel();
            Raster r = img.getRaster();
            this.grey = cm instanceof ComponentColorModel && cm.getColorSpace().getType() == ColorSpace.TYPE_GRAY
                    && cm.getNumColorComponents() == 1 && r.getNumBands() == cm.getNumComponents();
            this.alpha = grey && cm.hasAlpha();
            this.greyScale = grey ? 255f / ((1 << Math.min(16, cm.getComponentSize(0))) - 1) : 0;
            this.samples = new int[w];
            this.alphaSamples = alpha ? new int[w] : null;
            this.argb = grey ? null : new int[w];
        }

        void read(int y, float[][] out) {
            if (grey) {
                Raster r = img.getRaster();
                r.getSamples(x0, y, w, 1, 0, samples);
                if (alpha) {
                    r.getSamples(x0, y, w, 1, 1, alphaSamples);
                    float as = greyScale / 255f;
                    for (int x = 0; x < w; x++) out[0][x] = samples[x] * greyScale * Math.min(1f, alphaSamples[x] * as);
                } else {
                    for (int x = 0; x < w; x++) out[0][x] = samples[x] * greyScale;
                }
            } else {
                img.getRGB(x0, y, w, 1, argb, 0, w);
                for (int x = 0; x < w; x++) {
                    int p = argb[x];
                    float a = (p >>> 24) / 255f;
                    out[0][x] = ((p >> 16) & 0xFF) * a;
                    out[1][x] = ((p >> 8) & 0xFF) * a;
                    out[2][x] = (p & 0xFF) * a;
                }
            }
        }
    }
}
