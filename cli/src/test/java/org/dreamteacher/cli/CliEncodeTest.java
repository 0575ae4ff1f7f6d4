package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code encode} and {@code distill --features} on tiny settings, in this JVM. */
class CliEncodeTest {
    static final int IMAGES = 40;
    @TempDir
    static Path dir;
    static Path teacher, pictures;

    @BeforeAll
    static void setUp() throws Exception {
        Progress.setEnabled(false);
        teacher = CliRun.tinyTeacher(dir.resolve("tiny-teacher"));
        pictures = writePictures(dir.resolve("pictures"), IMAGES);
    }

    /** The first {@code n} embedded training images as 28x28 grey PNG files. */
    static Path writePictures(Path folder, int n) throws IOException {
        Files.createDirectories(folder);
        ImageDataset train = FashionMnist.embeddedSubset().train();
        byte[] px = new byte[28 * 28];
        for (int i = 0; i < n; i++) {
            train.copyImageBytes(i, px, 0);
            BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
            img.getRaster().setDataElements(0, 0, 28, 28, px);
            ImageIO.write(img, "png", folder.resolve(String.format("img-%03d.png", i)).toFile());
        }
        return folder;
    }

    private static String[] encodeArgs(Path out, String... more) {
        return CliCommandsTest.concat(new String[] {"encode", "--teacher", teacher.toString(), "--images", pictures.toString(), "--size", "28",
            "--timestep", "20", "--chunk-size", "16", "--batch", "8", "--out", out.toString()}, more);
    }

    @Test
    void encodeResumeAndDistillFromTheStore() throws Exception {
        Path store = dir.resolve("store");
        CliRun r = run(encodeArgs(store, "--precision", "float32")).expectSuccess();
        assertTrue(r.out().contains("encoded 3 chunks (0 kept from before)"), r.out());
        byte[] last;
        try (FeatureStore s = FeatureStore.open(store)) {
            assertEquals(IMAGES, s.size());
            assertEquals(3, s.manifest().chunkCount());
            assertEquals(20, s.manifest().timestep());
            assertEquals("float32", s.manifest().precision().dtypeName());
            assertFalse(s.hasImages());
        }
        last = Files.readAllBytes(store.resolve("chunk-00002.dtt"));
        byte[] manifest = Files.readAllBytes(store.resolve("manifest.json"));

        // An existing store is not overwritten without --resume.
        run(encodeArgs(store, "--precision", "float32")).expectOneLineError(1, "--resume");
        // Resuming with other settings is refused.
        run(encodeArgs(store, "--precision", "float16", "--resume")).expectOneLineError(1, "another encoding");
        // A lost chunk is encoded again, byte for byte.
        Files.delete(store.resolve("chunk-00002.dtt"));
        CliRun resumed = run(encodeArgs(store, "--precision", "float32", "--resume")).expectSuccess();
        assertTrue(resumed.out().contains("encoded 1 chunks (2 kept from before)"), resumed.out());
        assertArrayEquals(last, Files.readAllBytes(store.resolve("chunk-00002.dtt")));
        assertArrayEquals(manifest, Files.readAllBytes(store.resolve("manifest.json")));

        Path out = dir.resolve("distill-stored");
        CliRun d = run("distill", "--features", store.toString(), "--images", pictures.toString(), "--size", "28", "--steps", "3", "--batch", "4",
                "--width", "8", "--regressor-channels", "16", "--out", out.toString()).expectSuccess();
        assertTrue(d.out().contains("stored encoded features"), d.out());
        assertTrue(d.out().contains("distilled 3 steps"), d.out());
        assertTrue(Checkpoints.load(out.resolve("backbone.dtt")) instanceof ResNet);

        // The store belongs to the pictures, not to the embedded set; nor does it mix with a teacher or another t.
        run("distill", "--features", store.toString(), "--steps", "3", "--batch", "4", "--width", "8", "--out", dir.resolve("d2").toString())
                .expectOneLineError(1, "images");
        run("distill", "--features", store.toString(), "--teacher", teacher.toString(), "--out", dir.resolve("d3").toString())
                .expectOneLineError(2, "not both");
        run("distill", "--features", store.toString(), "--timestep", "50", "--images", pictures.toString(), "--size", "28", "--out",
                dir.resolve("d4").toString()).expectOneLineError(2, "t = 20");
    }

    @Test
    void syntheticStoreTrainsABackbone() throws Exception {
        Path store = dir.resolve("synthetic");
        CliRun r = run("encode", "--teacher", teacher.toString(), "--synthetic", "6", "--sample-steps", "2", "--chunk-size", "4",
                "--timestep", "10", "--out", store.toString()).expectSuccess();
        assertTrue(r.out().contains("6 images sampled"), r.out());
        try (FeatureStore s = FeatureStore.open(store)) {
            assertEquals(6, s.size());
            assertTrue(s.hasImages());
            assertEquals("float16", s.manifest().precision().dtypeName());
        }
        Path out = dir.resolve("distill-synthetic");
        run("distill", "--features", store.toString(), "--steps", "2", "--batch", "3", "--width", "8", "--regressor-channels", "16", "--out",
                out.toString()).expectSuccess();
        assertTrue(Files.isRegularFile(out.resolve("backbone.dtt")));
    }

    @Test
    void badOptionsAreOneLineUsageErrors() {
        CliRun help = run("encode", "--help").expectSuccess();
        assertTrue(help.out().contains("Usage: dreamteacher encode") && help.out().contains("--synthetic"), help.out());
        assertTrue(run("distill", "--help").out().contains("--features"));
        assertTrue(run("--help").out().contains("encode"));
        Path out = dir.resolve("never");
        run(encodeArgs(out, "--precision", "int8")).expectOneLineError(2, "--precision");
        run(encodeArgs(out, "--chunk-size", "0")).expectOneLineError(2, "--chunk-size");
        run(encodeArgs(out, "--timestep", "5000")).expectOneLineError(2, "--timestep");
        run("encode", "--teacher", teacher.toString(), "--synthetic", "0", "--out", out.toString()).expectOneLineError(2, "--synthetic");
        run("encode", "--teacher", teacher.toString(), "--synthetic", "4", "--data", "embedded", "--out", out.toString())
                .expectOneLineError(2, "--synthetic");
        run("distill", "--features", dir.resolve("absent").toString()).expectOneLineError(2, "--features");
        assertFalse(Files.exists(out.resolve("manifest.json")));
    }
}
