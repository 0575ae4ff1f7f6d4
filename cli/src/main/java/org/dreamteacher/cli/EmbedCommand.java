package org.dreamteacher.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.eval.FeatureEmbedding;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.Backbones;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.torch.TorchRuntime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Writes a backbone's frozen, pooled features of a dataset as a NumPy array, for tools outside this library. */
@Command(name = "embed", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Embed images with a frozen backbone: the globally average-pooled features of every image of the split,",
            "the same features the linear probe sees, written to --out as a float32 (N, C) NumPy array (.npy).",
            "When the data has labels, they go beside it as int64 (N) in FILE.labels.npy (for --out FILE.npy).",
            "In Python: x = numpy.load('FILE.npy'); y = numpy.load('FILE.labels.npy')"})
final class EmbedCommand extends CliCommand {
    @Option(names = {"--model", "--backbone"}, paramLabel = "FILE", required = true,
            description = "A backbone checkpoint (ResNet or ConvNeXt), e.g. backbone.dtt of distill.")
    Path model;

    @Mixin
    DataOptions data;

    @Option(names = "--split", paramLabel = "NAME", description = "With --data: train or test (default: train).")
    String split;

    @Option(names = "--level", paramLabel = "LEVEL", defaultValue = "c5",
            description = "Which features: c2, c3, c4 or c5 (pooled), or all (C2..C5 pooled, side by side in that order) (default: ${DEFAULT-VALUE}).")
    String level;

    @Option(names = "--limit", paramLabel = "N", description = "Embed only the first N images of the split (default: all of them).")
    Integer limit;

    // The probe's feature batches have this size too (Classifier.Settings); libtorch may round differently in other batch sizes.
    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "256",
            description = "Images per forward (default: ${DEFAULT-VALUE}, as the probe).")
    int batchSize;

    @Option(names = "--out", paramLabel = "FILE.npy", required = true,
            description = "The features file; the labels go to FILE.labels.npy beside it. Both replace older files of those names.")
    Path out;

    @Override
    int execute() throws Exception {
        FeatureEmbedding.Level lvl;
        try {
            lvl = FeatureEmbedding.Level.parse(level);
        } catch (IllegalArgumentException e) {
            throw usage("--level: " + e.getMessage());
        }
        requirePositive(batchSize, "--batch-size");
        if (limit != null) requirePositive(limit, "--limit");
        requireFile(model, "--model");
        if (!out.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npy")) throw usage("--out must name a .npy file, got " + out);
        if (Files.isDirectory(out)) throw usage("--out " + out + " is a folder; name the .npy file to write");
        ImageDataset images = images();
        if (limit != null && limit < images.size()) {
            int[] first = new int[limit];
            Arrays.setAll(first, i -> i);
            images = images.subset(first);
        }

        TorchRuntime.init();
        try (ConfiguredModule m = Checkpoints.load(model)) {
            Backbone b = FeatureEmbedding.backbone(m, model.toString());
            if (images.channels() != b.inChannels())
                throw new CliException("the images have " + images.channels() + " channel(s), the backbone expects " + b.inChannels()
                        + (data.images != null ? " (use --channels " + b.inChannels() + ")" : ""));
            long columns = FeatureEmbedding.columns(b, lvl);
            out().printf(Locale.ROOT, "embed: %s (%s)%n", model, Backbones.describe(m.config()));
            out().printf(Locale.ROOT, "  %s, %d images, level %s (%d columns), batches of %d -> %s%n", describeData(), images.size(), lvl.label(),
                    columns, batchSize, out);
            out().flush();
            FeatureEmbedding.Result r = FeatureEmbedding.write(m, images, lvl, batchSize, out);
            if (r.labels() != null) {
                out().printf(Locale.ROOT, "wrote %s (%d x %d float32) and its labels %s (%d int64) in %.1f s%n", r.features(), r.rows(), r.columns(),
                        r.labels(), r.rows(), r.seconds());
            } else {
                out().printf(Locale.ROOT, "wrote %s (%d x %d float32) in %.1f s; the images have no labels%n", r.features(), r.rows(), r.columns(),
                        r.seconds());
                Path stale = FeatureEmbedding.labelsFile(out);
                if (Files.exists(stale)) out().printf(Locale.ROOT, "note: %s is from an earlier run, not of these images%n", stale);
            }
        }
        return 0;
    }

    /** The split of --data, or the pictures of --images (which have no splits). */
    private ImageDataset images() throws java.io.IOException {
        if (data.images != null) {
            if (split != null) throw usage("--split applies to --data; --images is one folder of pictures");
            return data.trainImages();
        }
        FashionMnist fm = data.fashionMnist();
        String s = split == null ? "train" : split.trim().toLowerCase(Locale.ROOT);
        return switch (s) {
            case "train" -> fm.train();
            case "test" -> fm.test();
            default -> throw usage("--split must be train or test, got '" + split + "'");
        };
    }

    private String describeData() {
        return data.images != null ? data.describe() : data.describe() + ", " + (split == null ? "train" : split.trim().toLowerCase(Locale.ROOT)) + " split";
    }
}
