package org.dreamteacher.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.ImageFolder;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Where the training images come from: embedded Fashion-MNIST (default), the full set, IDX files or a picture folder. */
final class DataOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(names = "--data", paramLabel = "SOURCE",
            description = "embedded (the Fashion-MNIST subset inside the library: 6,000 train / 1,000 test, the default), "
                    + "fashion-mnist (the full set from " + "/usr/share/datasets/fashion-mnist), or a folder of Fashion-MNIST IDX files.")
    String data;

    @Option(names = "--images", paramLabel = "DIR", description = "Train on your own unlabelled PNG/JPEG images (searched recursively) instead.")
    Path images;

    @Option(names = "--size", paramLabel = "PX", defaultValue = "32", description = "With --images: resize (centre crop) to PX x PX (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--channels", paramLabel = "C", defaultValue = "1", description = "With --images: 1 (grey) or 3 (RGB) (default: ${DEFAULT-VALUE}).")
    int channels;

    /** The labelled Fashion-MNIST named by {@code --data}; refuses {@code --images}, which has no labels. */
    FashionMnist fashionMnist() throws IOException {
        if (images != null) throw usage("--images has no labels; this command needs Fashion-MNIST (--data)");
        return load(data);
    }

    /** Training images: the train split of {@code --data}, or the folder of {@code --images}. */
    ImageDataset trainImages() throws IOException {
        if (images != null) {
            if (data != null) throw usage("give either --data or --images, not both");
            if (!Files.isDirectory(images)) throw usage("--images: no such folder: " + images);
            if (size < 1 || size > 1024) throw usage("--size must be in 1..1024, got " + size);
            if (channels != 1 && channels != 3) throw usage("--channels must be 1 or 3, got " + channels);
            return ImageFolder.load(images, ImageFolder.Options.of(channels, size)).dataset();
        }
        return load(data).train();
    }

    /** A short description of the data, for the run's log. */
    String describe() {
        if (images != null) return "images in " + images + " (" + channels + " x " + size + " x " + size + ")";
        return data == null || data.equals("embedded") ? "embedded Fashion-MNIST subset" : "Fashion-MNIST from " + source(data);
    }

    private FashionMnist load(String spec) throws IOException {
        if (spec == null || spec.equals("embedded")) return FashionMnist.embeddedSubset();
        if (spec.equals("fashion-mnist")) {
            if (!FashionMnist.isInstalled(FashionMnist.DEFAULT_DIR))
                throw new CliException("the full Fashion-MNIST is not installed in " + FashionMnist.DEFAULT_DIR
                        + " (apt-get install dataset-fashion-mnist), or use --data embedded");
            return FashionMnist.load(FashionMnist.DEFAULT_DIR);
        }
        Path dir = Path.of(spec);
        if (!Files.isDirectory(dir)) throw usage("--data: '" + spec + "' is neither embedded, fashion-mnist nor a folder");
        return FashionMnist.load(dir);
    }

    private static String source(String spec) {
        return spec.equals("fashion-mnist") ? FashionMnist.DEFAULT_DIR.toString() : spec;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(mixee.commandLine(), message);
    }
}
