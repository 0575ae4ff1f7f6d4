package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading a user's image folder: formats, order, colour, resizing, and bad files. */
class ImageFolderTest {
    @TempDir
    Path dir;

    private static BufferedImage solid(int w, int h, int rgb) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) img.setRGB(x, y, rgb);
        return img;
    }

    private static void write(BufferedImage img, String format, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        assertTrue(ImageIO.write(img, format, file.toFile()));
    }

    private static int u(byte b) {
        return b & 0xFF;
    }

    @Test
    void loadsPngAndJpegRecursivelyInPathOrder() throws IOException {
        write(solid(40, 30, 0xFF0000), "png", dir.resolve("b/red.png"));
        write(solid(20, 20, 0x0000FF), "jpg", dir.resolve("a.JPG"));
        BufferedImage grey = new BufferedImage(16, 16, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++) grey.getRaster().setSample(x, y, 0, 77);
        write(grey, "png", dir.resolve("c/d/grey.png"));
        Files.writeString(dir.resolve("notes.txt"), "not an image");

        ImageFolder rgb = ImageFolder.load(dir, ImageFolder.Options.of(3, 8));
        assertEquals(List.of(dir.resolve("a.JPG"), dir.resolve("b/red.png"), dir.resolve("c/d/grey.png")), rgb.files());
        ImageDataset d = rgb.dataset();
        assertEquals(3, d.size());
        assertEquals(3, d.channels());
        assertEquals(8, d.height());
        assertEquals(8, d.width());
        assertTrue(!d.hasLabels());
        byte[] px = new byte[3 * 64];
        d.copyImageBytes(1, px, 0); // red: R = 255, G = B = 0 everywhere
        for (int k = 0; k < 64; k++) {
            assertEquals(255, u(px[k]));
            assertEquals(0, u(px[64 + k]));
            assertEquals(0, u(px[128 + k]));
        }
        d.copyImageBytes(0, px, 0); // blue JPEG: lossy, but close
        assertTrue(u(px[128 + 27]) > 230 && u(px[27]) < 25, "blue JPEG decoded as " + u(px[27]) + "," + u(px[64 + 27]) + "," + u(px[128 + 27]));
        d.copyImageBytes(2, px, 0); // 8-bit grey PNG: exact value in all three channels
        for (int k = 0; k < 3 * 64; k++) assertEquals(77, u(px[k]));

        ImageDataset g = ImageFolder.load(dir, ImageFolder.Options.of(1, 8)).dataset();
        byte[] one = new byte[64];
        g.copyImageBytes(1, one, 0);
        assertEquals(Math.round(0.299f * 255), u(one[10])); // luma of pure red
        g.copyImageBytes(2, one, 0);
        assertEquals(77, u(one[10]));
    }

    @Test
    void resizingAveragesAreasAndInterpolatesBilinearly() {
        // 4x4 of 2x2 blocks 0, 100 / 200, 40: shrinking to 2x2 gives the block values exactly.
        BufferedImage img = new BufferedImage(4, 4, BufferedImage.TYPE_BYTE_GRAY);
        int[] blocks = {0, 100, 200, 40};
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) img.getRaster().setSample(x, y, 0, blocks[(y / 2) * 2 + x / 2]);
        assertArrayEquals(new byte[] {0, 100, (byte) 200, 40}, ImageFolder.convert(img, ImageFolder.Options.of(1, 2)));
        // 3 -> 2 pixels: each output covers 1.5 inputs.
        BufferedImage row = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_GRAY);
        row.getRaster().setSamples(0, 0, 3, 1, 0, new int[] {0, 90, 180});
        byte[] two = ImageFolder.convert(row, new ImageFolder.Options(1, 1, 2, false, false, 100));
        assertEquals(30, u(two[0])); // (0 + 0.5 * 90) / 1.5
        assertEquals(150, u(two[1])); // (0.5 * 90 + 180) / 1.5
        // Enlarging 2 -> 4: half-pixel centres, edges clamped.
        BufferedImage pair = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
        pair.getRaster().setSamples(0, 0, 2, 1, 0, new int[] {0, 200});
        byte[] four = ImageFolder.convert(pair, new ImageFolder.Options(1, 1, 4, false, false, 100));
        assertArrayEquals(new byte[] {0, 50, (byte) 150, (byte) 200}, four);
        // Centre crop of a wide image keeps its middle.
        BufferedImage wide = new BufferedImage(6, 2, BufferedImage.TYPE_BYTE_GRAY);
        for (int x = 0; x < 6; x++) for (int y = 0; y < 2; y++) wide.getRaster().setSample(x, y, 0, x < 2 || x > 3 ? 0 : 250);
        byte[] centre = ImageFolder.convert(wide, ImageFolder.Options.of(1, 2));
        assertArrayEquals(new byte[] {(byte) 250, (byte) 250, (byte) 250, (byte) 250}, centre);
    }

    @Test
    void corruptFilesFailOrAreSkipped() throws IOException {
        write(solid(10, 10, 0x00FF00), "png", dir.resolve("good.png"));
        Path bad = dir.resolve("broken.png");
        Files.write(bad, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13, 'I', 'H'});
        Path text = dir.resolve("text.jpg");
        Files.writeString(text, "hello");
        CorruptDataException e = assertThrows(CorruptDataException.class, () -> ImageFolder.load(dir, ImageFolder.Options.of(1, 8)));
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());

        ImageFolder lenient = ImageFolder.load(dir, ImageFolder.Options.of(1, 8).withSkipBad(true));
        assertEquals(List.of(dir.resolve("good.png")), lenient.files());
        assertEquals(List.of(bad, text), lenient.skipped());
        assertEquals(1, lenient.dataset().size());
    }

    @Test
    void emptyFolderIsAnError() throws IOException {
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("sub/readme.txt"), "no images");
        DataException e = assertThrows(DataException.class, () -> ImageFolder.load(dir, ImageFolder.Options.of(1, 8)));
        assertTrue(e.getMessage().contains("no PNG or JPEG images"), e.getMessage());
        assertThrows(DataException.class, () -> ImageFolder.load(dir.resolve("absent"), ImageFolder.Options.of(1, 8)));
        // All files bad with skipBad: still an error.
        Files.writeString(dir.resolve("x.png"), "junk");
        assertThrows(DataException.class, () -> ImageFolder.load(dir, ImageFolder.Options.of(1, 8).withSkipBad(true)));
    }

    /** A 60-byte PNG whose header declares 100,000 x 100,000 pixels (40 GB decoded). */
    @Test
    void hugeDeclaredImagesAreRefusedBeforeDecoding() throws IOException {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        png.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10});
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(100_000).putInt(100_000).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        chunk(png, "IHDR", ihdr.array());
        chunk(png, "IDAT", new byte[] {0x78, (byte) 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
        chunk(png, "IEND", new byte[0]);
        Path huge = dir.resolve("huge.png");
        Files.write(huge, png.toByteArray());
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            CorruptDataException e = assertThrows(CorruptDataException.class, () -> ImageFolder.load(dir, ImageFolder.Options.of(3, 32)));
            assertTrue(e.getMessage().contains("huge.png") && e.getMessage().contains("100000 x 100000") && e.getMessage().contains("limit"),
                    e.getMessage());
        });
        write(solid(64, 64, 0x808080), "png", dir.resolve("ok.png"));
        CorruptDataException capped = assertThrows(CorruptDataException.class,
                () -> ImageFolder.readImage(dir.resolve("ok.png"), ImageFolder.Options.of(1, 8).withMaxPixels(1000)));
        assertTrue(capped.getMessage().contains("64 x 64"));
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }
}
