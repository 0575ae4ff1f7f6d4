package org.dreamteacher.cli;

import static org.dreamteacher.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.NpyFiles;
import org.dreamteacher.eval.Classifier;
import org.dreamteacher.eval.Mode;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureRegressorConfig;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.train.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code embed} on a tiny ResNet and the embedded Fashion-MNIST subset, and its errors. */
class CliEmbedTest {
    @TempDir
    static Path dir;
    static Path backbone;
    static Path regressor;

    @BeforeAll
    static void models() throws Exception {
        Progress.setEnabled(false);
        backbone = dir.resolve("backbone.dtt");
        torch.manual_seed(5);
        try (ConfiguredModule m = ResNetConfig.small(18, 4, 1, 0).build()) {
            Checkpoints.save(backbone, m);
        }
        regressor = dir.resolve("regressor.dtt");
        try (ConfiguredModule m = FeatureRegressorConfig.of(new long[] {4, 8, 16, 32}, new long[] {8, 8, 8, 8}, 8).build()) {
            Checkpoints.save(regressor, m);
        }
    }

    /** 30 test images in batches of 7: the rows are the probe's features of the same images, bit for bit. */
    @Test
    void embedsTheTestSplitAsTheProbeSeesIt() throws Exception {
        Path out = dir.resolve("features").resolve("test-c5.npy");
        CliRun r = run("embed", "--model", backbone.toString(), "--data", "embedded", "--split", "test", "--limit", "30", "--batch-size", "7",
                "--out", out.toString()).expectSuccess();
        Path labelsFile = dir.resolve("features").resolve("test-c5.labels.npy");
        assertTrue(r.out().contains("ResNet-18"), r.out());
        assertTrue(r.out().contains("30 images, level c5 (32 columns)"), r.out());
        assertTrue(r.out().contains("wrote " + out + " (30 x 32 float32) and its labels " + labelsFile + " (30 int64)"), r.out());

        NpyFiles.Npy features = NpyFiles.read(out);
        assertArrayEquals(new long[] {30, 32}, features.shape());
        ImageDataset test = FashionMnist.embeddedSubset().test();
        int[] first = new int[30];
        Arrays.setAll(first, i -> i);
        assertArrayEquals(Arrays.stream(test.subset(first).labels()).asLongStream().toArray(), NpyFiles.read(labelsFile).longs());
        // On the one thread the command ran with (CliRun): the thread count changes libtorch's summation order.
        int threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try (ConfiguredModule m = Checkpoints.load(backbone); Tensor probe = Classifier.pooledFeatures(m, test, first, 7, "probe")) {
            float[] p = new float[Math.toIntExact(probe.numel())];
            probe.contiguous().data_ptr_float().get(p);
            assertArrayEquals(p, features.floats());
        } finally {
            torch.set_num_threads(threads);
        }
        assertEquals(List.of("test-c5.labels.npy", "test-c5.npy"), names(out.getParent()), "no temporary files");
    }

    @Test
    void allLevelsOfTheTrainSplit() throws Exception {
        Path out = dir.resolve("train-all.npy");
        CliRun r = run("embed", "--backbone", backbone.toString(), "--level", "all", "--limit", "12", "--out", out.toString()).expectSuccess();
        assertTrue(r.out().contains("embedded Fashion-MNIST subset, train split, 12 images, level all (60 columns), batches of 256"), r.out());
        NpyFiles.Npy features = NpyFiles.read(out);
        assertArrayEquals(new long[] {12, 4 + 8 + 16 + 32}, features.shape());
        for (float v : features.floats()) assertTrue(Float.isFinite(v), "non-finite feature " + v);
        long[] labels = NpyFiles.read(dir.resolve("train-all.labels.npy")).longs();
        int[] train = FashionMnist.embeddedSubset().train().labels();
        assertArrayEquals(Arrays.stream(Arrays.copyOf(train, 12)).asLongStream().toArray(), labels);
    }

    @Test
    void helpNamesTheLabelsFileAndTheProbesBatchSize() {
        CliRun h = run("embed", "--help").expectSuccess();
        assertTrue(h.out().contains("Usage: dreamteacher embed"), h.out());
        assertTrue(h.out().contains("FILE.labels.npy"), h.out());
        assertTrue(h.out().contains("c2, c3, c4 or c5"), h.out());
        assertTrue(h.out().contains("default: " + Classifier.Settings.defaults(Mode.LINEAR_PROBE).evalBatchSize() + ", as the probe"), h.out());
        assertTrue(run("--help").expectSuccess().out().contains("embed"));
    }

    @Test
    void badInputGivesOneLineAndTheExitCode() throws Exception {
        Path errors = Files.createDirectories(dir.resolve("errors"));
        String out = errors.resolve("f.npy").toString();
        run("embed", "--model", regressor.toString(), "--limit", "2", "--out", out).expectOneLineError(1, "holds a 'regressor' model, not a backbone");
        run("embed", "--model", backbone.toString(), "--level", "c6", "--out", out).expectOneLineError(2, "--level: unknown level 'c6'");
        run("embed", "--model", errors.resolve("nope.dtt").toString(), "--out", out).expectOneLineError(2, "no such file");
        run("embed", "--model", backbone.toString(), "--split", "validation", "--out", out).expectOneLineError(2, "--split must be train or test");
        run("embed", "--model", backbone.toString(), "--images", dir.toString(), "--split", "test", "--out", out).expectOneLineError(2, "--split");
        run("embed", "--model", backbone.toString(), "--batch-size", "0", "--out", out).expectOneLineError(2, "--batch-size must be > 0");
        run("embed", "--model", backbone.toString(), "--out", errors.resolve("f.csv").toString()).expectOneLineError(2, ".npy");
        run("embed", "--model", backbone.toString(), "--out", Files.createDirectories(errors.resolve("dir.npy")).toString())
                .expectOneLineError(2, "is a folder");
        run("embed", "--model", backbone.toString()).expectOneLineError(2, "--out");
        // A file where a folder should be: nothing can be written there.
        Path blocker = Files.writeString(errors.resolve("plain.txt"), "x");
        run("embed", "--model", backbone.toString(), "--limit", "2", "--out", blocker.resolve("f.npy").toString())
                .expectOneLineError(1, "cannot write " + blocker.resolve("f.npy"));
        assertEquals(List.of("dir.npy", "plain.txt"), names(errors), "no output and no temporary file");
        assertFalse(Files.exists(errors.resolve("f.labels.npy")));
    }

    private static List<String> names(Path folder) throws Exception {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
