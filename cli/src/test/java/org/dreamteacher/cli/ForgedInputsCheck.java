package org.dreamteacher.cli;

import java.nio.file.Path;
import java.util.Locale;
import org.dreamteacher.data.IdxReader;
import org.dreamteacher.data.ImageFolder;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.torch.TorchRuntime;

/**
 * Reads each forged file that {@link UntrustedInputsTest} wrote, in a JVM with a small heap: every one must be
 * refused with an {@code IOException} whose message contains the expected words, quickly, and nothing may run out
 * of memory. Prints {@code ok CASE: message} or {@code FAIL CASE: ...} per file; exits 1 if any failed.
 */
public final class ForgedInputsCheck {
    interface Read {
        void read() throws Exception;
    }

    static int failures;

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        TorchRuntime.init();
        expect("idx-huge-raw", "truncated", () -> IdxReader.read(dir.resolve("huge.idx")));
        expect("idx-huge-gzip", "truncated", () -> IdxReader.read(dir.resolve("huge.idx.gz")));
        expect("idx-over-limit", "limit", () -> IdxReader.read(dir.resolve("limit.idx")));
        expect("idx-overflow", "overflow", () -> IdxReader.read(dir.resolve("overflow.idx")));
        expect("png-100000x100000", "limit", () -> ImageFolder.load(dir.resolve("png"), ImageFolder.Options.of(3, 32)));
        expect("png-5000x5000-heap", "heap", () -> ImageFolder.load(dir.resolve("png-heap"), ImageFolder.Options.of(3, 32)));
        expect("jpeg-65000x65000", "limit", () -> ImageFolder.load(dir.resolve("jpeg"), ImageFolder.Options.of(3, 32)));
        expect("tensor-file-4-TB-tensor", "outside the file", () -> TensorFile.read(dir.resolve("huge-tensor.dtt")));
        expect("checkpoint-resnet50-width-4096", "refusing to build", () -> Checkpoints.load(dir.resolve("resnet-forged.dtt")));
        expect("checkpoint-teacher-base-2048", "refusing to build", () -> Checkpoints.load(dir.resolve("teacher-forged.dtt")));
        expect("checkpoint-regressor-65536-channels", "refusing to build", () -> Checkpoints.load(dir.resolve("regressor-forged.dtt")));
        expect("manifest-2^31-images", "unfinished", () -> FeatureStore.open(dir.resolve("store-size")));
        expect("manifest-huge-tap", "another store", () -> FeatureStore.open(dir.resolve("store-tap")));
        expect("chunk-huge-shape", "describes", () -> FeatureStore.open(dir.resolve("store-chunk")));
        System.out.flush();
        System.exit(failures == 0 ? 0 : 1);
    }

    static void expect(String name, String fragment, Read read) {
        long t0 = System.nanoTime();
        try {
            read.read();
            fail(name, "was accepted");
        } catch (OutOfMemoryError e) {
            fail(name, "out of memory: " + e);
        } catch (java.io.IOException e) {
            double s = (System.nanoTime() - t0) / 1e9;
            String m = String.valueOf(e.getMessage());
            if (!m.contains(fragment)) fail(name, "message without '" + fragment + "': " + m);
            else if (s > 10) fail(name, String.format(Locale.ROOT, "took %.1f s", s));
            else System.out.printf(Locale.ROOT, "ok %s (%.2f s): %s%n", name, s, m.lines().findFirst().orElse(""));
        } catch (Throwable e) {
            fail(name, "not an IOException: " + e);
        }
    }

    static void fail(String name, String why) {
        failures++;
        System.out.println("FAIL " + name + ": " + why);
    }
}
