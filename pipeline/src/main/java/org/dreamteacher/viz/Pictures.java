package org.dreamteacher.viz;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.torch.AtomicWrite;
import org.dreamteacher.torch.CpuTensors;
import org.dreamteacher.torch.TorchRuntime;

/**
 * PNG pictures for looking at what the models do: image grids (samples, reconstructions), segmentation
 * overlays (ground truth next to predictions), PCA maps of feature tensors (the usual way to show that a
 * distilled student's features resemble the teacher's) and side-by-side panels with captions. Everything
 * is drawn with Java2D and written with ImageIO; images are expected in [-1, 1] and are clamped.
 */
public final class Pictures {
    /**
     * Colours of segmentation classes 1, 2, ... (RGB; class 0, the background, is left untinted): Tableau's
     * ten, then ten more; labels beyond the table reuse it cyclically.
     */
    public static final List<Integer> PALETTE = List.of(0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD, 0x8C564B, 0xE377C2, 0xFFD700,
            0xBCBD22, 0x17BECF, 0x00FF7F, 0xFF1493, 0x7FFFD4, 0xA52A2A, 0x4169E1, 0xADFF2F, 0xFF4500, 0x9ACD32, 0x00CED1, 0xDA70D6);
    /** Pixels between grid cells. */
    public static final int GAP = 2;
    private static final Color BACKGROUND = new Color(48, 48, 48);

    private Pictures() {}

    /** The overlay colour of a class label (RGB), or -1 for the background class 0. */
    public static int colour(int label) {
        return label <= 0 ? -1 : PALETTE.get((label - 1) % PALETTE.size());
    }

    /** A grid of a (B, C, H, W) batch (C = 1 or 3, values in [-1, 1]), {@code columns} wide, each pixel scale x scale. */
    public static BufferedImage grid(Tensor images, int columns, int scale) {
        long[] s = CpuTensors.shape(images);
        if (s.length != 4 || (s[1] != 1 && s[1] != 3))
            throw new IllegalArgumentException("expected a (B, C, H, W) tensor with C = 1 or 3, got " + java.util.Arrays.toString(s));
        checkPositive(columns, "columns");
        checkPositive(scale, "scale");
        int b = (int) s[0], c = (int) s[1], h = (int) s[2], w = (int) s[3];
        if (b == 0) throw new IllegalArgumentException("no images to draw");
        float[] v = CpuTensors.toFloats(images);
        int cols = Math.min(columns, b), rows = (b + cols - 1) / cols;
        BufferedImage out = canvas(cols * (w * scale + GAP) + GAP, rows * (h * scale + GAP) + GAP);
        for (int i = 0; i < b; i++) {
            int ox = GAP + (i % cols) * (w * scale + GAP), oy = GAP + (i / cols) * (h * scale + GAP);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int rgb;
                    if (c == 1) {
                        int g = toByte(v[(i * h + y) * w + x]);
                        rgb = g << 16 | g << 8 | g;
                    } else {
                        int base = i * 3 * h * w + y * w + x;
                        rgb = toByte(v[base]) << 16 | toByte(v[base + h * w]) << 8 | toByte(v[base + 2 * h * w]);
                    }
                    fill(out, ox + x * scale, oy + y * scale, scale, rgb);
                }
            }
        }
        return out;
    }

    /** Writes {@link #grid(Tensor, int, int)} as a PNG. */
    public static void saveGrid(Path png, Tensor images, int columns, int scale) throws IOException {
        save(png, grid(images, columns, scale));
    }

    /**
     * One image ((C, H, W) or (H, W), values in [-1, 1]) shown in grey with the label map ((H, W), integer
     * classes) tinted over it with opacity {@code alpha}; background (0) pixels stay grey.
     */
    public static BufferedImage overlay(Tensor image, Tensor labels, int scale, double alpha) {
        long[] s = CpuTensors.shape(image);
        long[] ls = CpuTensors.shape(labels);
        int c = s.length == 3 ? (int) s[0] : 1;
        if ((s.length != 2 && s.length != 3) || (c != 1 && c != 3))
            throw new IllegalArgumentException("expected a (C, H, W) image with C = 1 or 3 or an (H, W) image, got " + java.util.Arrays.toString(s));
        int h = (int) s[s.length - 2], w = (int) s[s.length - 1];
        if (ls.length != 2 || ls[0] != h || ls[1] != w)
            throw new IllegalArgumentException("the label map must be (" + h + ", " + w + "), got " + java.util.Arrays.toString(ls));
        checkPositive(scale, "scale");
        if (!(alpha >= 0 && alpha <= 1)) throw new IllegalArgumentException("alpha must be in [0, 1]: " + alpha);
        float[] v = CpuTensors.toFloats(image);
        long[] l = CpuTensors.toLongs(labels);
        BufferedImage out = new BufferedImage(w * scale, h * scale, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = y * w + x;
                float g = c == 1 ? v[p] : 0.299f * v[p] + 0.587f * v[p + h * w] + 0.114f * v[p + 2 * h * w];
                int grey = toByte(g);
                int col = colour((int) Math.min(Integer.MAX_VALUE, l[p]));
                int rgb;
                if (col < 0) {
                    rgb = grey << 16 | grey << 8 | grey;
                } else {
                    int r = blend(grey, col >> 16 & 0xFF, alpha), gg = blend(grey, col >> 8 & 0xFF, alpha), bb = blend(grey, col & 0xFF, alpha);
                    rgb = r << 16 | gg << 8 | bb;
                }
                fill(out, x * scale, y * scale, scale, rgb);
            }
        }
        return out;
    }

    /**
     * A table with one row per sample of {@code images} (B, C, H, W): the plain image, then the image with
     * each label map of {@code labelMaps} (each (B, H, W): ground truth, predictions ...) overlaid.
     */
    public static void saveOverlays(Path png, Tensor images, List<Tensor> labelMaps, int scale) throws IOException {
        long[] s = CpuTensors.shape(images);
        if (s.length != 4) throw new IllegalArgumentException("expected (B, C, H, W) images, got " + java.util.Arrays.toString(s));
        int b = (int) s[0], h = (int) s[2], w = (int) s[3];
        if (b == 0) throw new IllegalArgumentException("no images to draw");
        int cols = 1 + labelMaps.size();
        BufferedImage out = canvas(cols * (w * scale + GAP) + GAP, b * (h * scale + GAP) + GAP);
        Graphics2D g = out.createGraphics();
        try (PointerScope scope = new PointerScope()) {
            for (int i = 0; i < b; i++) {
                Tensor img = images.select(0, i);
                int oy = GAP + i * (h * scale + GAP);
                g.drawImage(grid(img.unsqueeze(0), 1, scale).getSubimage(GAP, GAP, w * scale, h * scale), GAP, oy, null);
                for (int k = 0; k < labelMaps.size(); k++) {
                    Tensor lm = labelMaps.get(k);
                    if (lm.dim() != 3 || lm.size(0) != b)
                        throw new IllegalArgumentException("label map " + k + " must be (" + b + ", " + h + ", " + w + ")");
                    g.drawImage(overlay(img, lm.select(0, i), scale, 0.55), GAP + (k + 1) * (w * scale + GAP), oy, null);
                }
            }
        } finally {
            g.dispose();
        }
        save(png, out);
    }

    /**
     * The first three principal components of a (C, H, W) feature map, over its H x W positions, as the red,
     * green and blue channels, each min-max normalised to 0..255, upscaled (nearest) to outHeight x outWidth.
     * The covariance's eigen decomposition runs in libtorch (float64); each component's sign is fixed so that
     * its largest-magnitude score is positive, so the colours are reproducible. Channels beyond the number of
     * components (C &lt; 3) and constant components are black.
     */
    public static BufferedImage pcaRgb(Tensor feature, int outHeight, int outWidth) {
        long[] s = CpuTensors.shape(feature);
        if (s.length != 3 || s[0] < 1 || s[1] < 1 || s[2] < 1)
            throw new IllegalArgumentException("expected a non-empty (C, H, W) feature map, got " + java.util.Arrays.toString(s));
        checkPositive(outHeight, "outHeight");
        checkPositive(outWidth, "outWidth");
        int c = (int) s[0], h = (int) s[1], w = (int) s[2], p = h * w, k = Math.min(3, c);
        double[] scores = new double[k * p];
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            Tensor f = feature.detach().cpu().to(ScalarType.Double).contiguous().reshape(c, p);
            if (!Double.isFinite(f.abs().max().item_double())) throw new IllegalArgumentException("the feature map has NaN or infinite values");
            Tensor centred = f.sub(f.mean(new long[] {1}, true, new ScalarTypeOptional()));
            Tensor cov = centred.mm(centred.t()).div(new Scalar((double) p));
            T_TensorTensor_T eig = torch.linalg_eigh(cov);
            Tensor top = eig.get1().narrow(1, c - k, k).flip(1); // eigenvalues ascend: take the last k, largest first
            Tensor proj = top.t().mm(centred).contiguous();
            proj.data_ptr_double().get(scores);
        }
        int[][] rgb = new int[3][p];
        for (int comp = 0; comp < k; comp++) {
            int base = comp * p;
            int arg = base;
            for (int i = base; i < base + p; i++) if (Math.abs(scores[i]) > Math.abs(scores[arg])) arg = i;
            double sign = scores[arg] < 0 ? -1 : 1;
            double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
            for (int i = base; i < base + p; i++) {
                scores[i] *= sign;
                lo = Math.min(lo, scores[i]);
                hi = Math.max(hi, scores[i]);
            }
            double range = hi - lo;
            boolean constant = !(range > 1e-9 * Math.max(1, Math.max(Math.abs(lo), Math.abs(hi))));
            for (int i = 0; i < p; i++) rgb[comp][i] = constant ? 0 : (int) Math.round((scores[base + i] - lo) / range * 255);
        }
        BufferedImage out = new BufferedImage(outWidth, outHeight, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < outHeight; y++) {
            int sy = (int) ((long) y * h / outHeight);
            for (int x = 0; x < outWidth; x++) {
                int q = sy * w + (int) ((long) x * w / outWidth);
                out.setRGB(x, y, rgb[0][q] << 16 | rgb[1][q] << 8 | rgb[2][q]);
            }
        }
        return out;
    }

    /** Writes {@link #pcaRgb(Tensor, int, int)} as a PNG. */
    public static void savePca(Path png, Tensor feature, int outHeight, int outWidth) throws IOException {
        save(png, pcaRgb(feature, outHeight, outWidth));
    }

    /**
     * Panels in one row with a caption above each (e.g. "image", "teacher", "student"); captions may be null
     * or shorter than the panel list.
     */
    public static BufferedImage sideBySide(List<BufferedImage> panels, List<String> captions) {
        if (panels.isEmpty()) throw new IllegalArgumentException("no panels");
        boolean hasCaptions = captions != null && captions.stream().anyMatch(t -> t != null && !t.isEmpty());
        int captionHeight = hasCaptions ? 20 : 0;
        int width = GAP, height = 0;
        for (BufferedImage p : panels) {
            width += p.getWidth() + GAP;
            height = Math.max(height, p.getHeight());
        }
        BufferedImage out = canvas(width, height + captionHeight + 2 * GAP);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            FontMetrics fm = g.getFontMetrics();
            int x = GAP;
            for (int i = 0; i < panels.size(); i++) {
                BufferedImage p = panels.get(i);
                if (hasCaptions && i < captions.size() && captions.get(i) != null) {
                    String text = captions.get(i);
                    g.setColor(Color.WHITE);
                    g.drawString(text, x + Math.max(0, (p.getWidth() - fm.stringWidth(text)) / 2), GAP + fm.getAscent());
                }
                g.drawImage(p, x, GAP + captionHeight, null);
                x += p.getWidth() + GAP;
            }
        } finally {
            g.dispose();
        }
        return out;
    }

    /** Writes a PNG, creating folders as needed; the file appears complete or not at all. */
    public static void save(Path png, BufferedImage image) throws IOException {
        AtomicWrite.writePath(png, AtomicWrite.Access.EVERYONE, tmp -> {
            if (!ImageIO.write(image, "png", tmp.toFile())) throw new IOException("no PNG writer in this JDK");
        });
    }

    private static BufferedImage canvas(int w, int h) {
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setColor(BACKGROUND);
        g.fillRect(0, 0, w, h);
        g.dispose();
        return out;
    }

    private static void fill(BufferedImage img, int x0, int y0, int scale, int rgb) {
        for (int dy = 0; dy < scale; dy++)
            for (int dx = 0; dx < scale; dx++) img.setRGB(x0 + dx, y0 + dy, rgb);
    }

    private static int blend(int a, int b, double alpha) {
        return (int) Math.round((1 - alpha) * a + alpha * b);
    }

    static int toByte(float v) {
        if (Float.isNaN(v)) return 0;
        return ImageDataset.toByte(Math.max(-1f, Math.min(1f, v)));
    }

    private static void checkPositive(int v, String name) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be positive: " + v);
    }
}
