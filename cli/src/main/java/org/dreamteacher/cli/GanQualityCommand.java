package org.dreamteacher.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.data.Splits;
import org.dreamteacher.eval.Classifier;
import org.dreamteacher.eval.FeatureEmbedding;
import org.dreamteacher.eval.FrechetDistance;
import org.dreamteacher.eval.PrecisionRecall;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.torch.AtomicWrite;
import org.dreamteacher.torch.TorchRuntime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A quality number for a GAN generator: the Fréchet distance to real images in a project classifier's feature space. */
@Command(name = "gan-quality", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Measure a GAN generator: N generated and N real training images are embedded with a classifier's frozen pooled C5",
            "features; prints their Frechet distance FD = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) (lower is better) and",
            "k-NN precision and recall (k = 3), and writes quality.json into --out.",
            "This is NOT the Inception FID: the features come from a Fashion-MNIST classifier trained with this project",
            "(dreamteacher finetune --save-model FILE), so the number is not comparable with published FIDs, only with other",
            "gan-quality numbers from the same classifier file and the same --n."})
final class GanQualityCommand extends CliCommand {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Option(names = "--generator", paramLabel = "FILE", required = true, description = "A generator checkpoint: generator.dtt of train-gan, or 'shipped' for the one in dreamteacher-assets.")
    Path generator;

    @Option(names = "--classifier", paramLabel = "FILE", required = true,
            description = "A backbone with a classification head, e.g. from dreamteacher finetune --save-model FILE; its pooled C5 features are used.")
    Path classifier;

    @Mixin
    DataOptions data;

    @Option(names = "--n", paramLabel = "N", defaultValue = "2000",
            description = "Generated images, and real images drawn from the training split; precision and recall take time quadratic in N"
                    + " (about 2.5 s at 2,000 on one thread) (default: ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Seed of the latents and of the choice of real images (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "100", description = "Images per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/gan-quality", description = "Where quality.json goes (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    int execute() throws Exception {
        GanGenerators.check(this, generator, "--generator");
        requireFile(classifier, "--classifier");
        if (n < PrecisionRecall.DEFAULT_K + 1) throw usage("--n must be at least " + (PrecisionRecall.DEFAULT_K + 1) + ", got " + n);
        requirePositive(batch, "--batch");
        if (Files.exists(out) && !Files.isDirectory(out)) throw usage("--out: not a folder: " + out);
        TorchRuntime.init();
        ImageDataset images = data.trainImages();
        if (n > images.size()) throw usage("--n " + n + " is more than the " + images.size() + " training images");
        long t0 = System.nanoTime();
        try (GanGenerator g = GanGenerators.open(generator); ConfiguredModule c = Checkpoints.load(classifier)) {
            Backbone b;
            try {
                b = FeatureEmbedding.backbone(c, "--classifier " + classifier);
            } catch (IllegalArgumentException e) {
                throw usage(DreamTeacherCli.Errors.oneLine(e.getMessage()));
            }
            if (b.numClasses() == 0)
                throw usage("--classifier " + classifier + " has no classification head; train one with dreamteacher finetune --save-model FILE");
            if (g.config().channels() != images.channels() || g.config().imageSize() != images.height() || images.height() != images.width())
                throw usage("the generator draws " + g.config().channels() + " x " + g.config().imageSize() + " x " + g.config().imageSize()
                        + " images, the data has " + images.channels() + " x " + images.height() + " x " + images.width());
            if (b.inChannels() != images.channels())
                throw usage("the classifier takes " + b.inChannels() + "-channel images, the data has " + images.channels());
            out().printf(Locale.ROOT, "gan-quality: %s (%s) against %d real images of %s, classifier %s (%s, %d classes)%n", GanGenerators.describe(generator),
                    g.config().widths(), n, data.describe(), classifier, c.config().kind(), b.numClasses());
            out().printf(Locale.ROOT, "  %d generated images, seed %d; features: pooled C5 (%d dimensions)%n", n, seed, b.featureChannels()[3]);
            out().flush();

            int[] realIndices = Arrays.copyOf(Splits.shuffled(images.size(), SeededRandom.mix(seed, SeedStreams.SYNTHETIC_SAMPLES, -1)), n);
            Arrays.sort(realIndices);
            g.eval();
            Tensor realF = null, fakeF = null;
            try {
                realF = Classifier.pooledFeatures(c, images, realIndices, batch, "features real");
                // One seed per batch: the images depend on the seed and the batch size only.
                fakeF = FeatureEmbedding.pooledFeatures(c, (from, count) -> {
                    torch.manual_seed(SeededRandom.mix(seed, SeedStreams.SYNTHETIC_SAMPLES, from));
                    return g.sample(g.latents(count));
                }, n, batch, "features generated");
                FrechetDistance.Result fd = FrechetDistance.between(realF, fakeF);
                PrecisionRecall.Result pr = PrecisionRecall.of(realF, fakeF, PrecisionRecall.DEFAULT_K);
                double seconds = (System.nanoTime() - t0) / 1e9;
                out().printf(Locale.ROOT, "FD %.4f (means %.4f + covariances %.4f; classifier features, not the Inception FID)%n", fd.distance(),
                        fd.meanTerm(), fd.traceTerm());
                out().printf(Locale.ROOT, "precision %.4f, recall %.4f (k = %d)%n", pr.precision(), pr.recall(), pr.k());
                Path json = writeJson(fd, pr, b, seconds);
                out().printf(Locale.ROOT, "results: %s (%.1f s)%n", json, seconds);
            } finally {
                if (realF != null) realF.close();
                if (fakeF != null) fakeF.close();
            }
        }
        return 0;
    }

    private Path writeJson(FrechetDistance.Result fd, PrecisionRecall.Result pr, Backbone b, double seconds) throws java.io.IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("command", "dreamteacher " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
        root.put("metric", "Frechet distance in the pooled C5 features of the classifier (not the Inception FID; not comparable with published FIDs)");
        root.put("generator", GanGenerators.describe(generator));
        root.put("classifier", classifier.toAbsolutePath().normalize().toString());
        root.put("data", data.describe());
        root.put("n", n);
        root.put("seed", seed);
        root.put("batch", batch);
        root.put("featureDimensions", b.featureChannels()[3]);
        root.put("fd", fd.distance());
        root.put("fdMeanTerm", fd.meanTerm());
        root.put("fdCovarianceTerm", fd.traceTerm());
        root.put("clampedEigenvalues", fd.clampedEigenvalues());
        root.put("mostNegativeEigenvalue", fd.mostNegativeEigenvalue());
        root.put("precision", pr.precision());
        root.put("recall", pr.recall());
        root.put("k", pr.k());
        root.put("seconds", seconds);
        Files.createDirectories(out);
        Path json = out.resolve("quality.json");
        AtomicWrite.writeString(json, AtomicWrite.Access.EVERYONE, JSON.writeValueAsString(root) + "\n");
        return json;
    }
}
