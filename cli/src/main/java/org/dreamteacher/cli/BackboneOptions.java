package org.dreamteacher.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dreamteacher.eval.BackboneSource;
import org.dreamteacher.nn.Backbones;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.InitWeights;
import org.dreamteacher.nn.ModelConfig;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * Which backbone an evaluation starts from: a checkpoint, or an architecture from random initialisation or
 * from weights saved elsewhere ({@code --init}).
 */
final class BackboneOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(names = "--backbone", paramLabel = "FILE", description = "A backbone checkpoint, e.g. backbone.dtt of distill.")
    Path checkpoint;

    @Option(names = "--random", paramLabel = "NAME",
            description = "Or start from random weights: resnet18, resnet34, resnet50 or convnext (with --width).")
    String random;

    @Option(names = "--width", paramLabel = "N", defaultValue = "32", description = "With --random: the backbone width (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--init", paramLabel = "FILE",
            description = {"With --random NAME: start that backbone from the weights in FILE instead of random ones: a .safetensors state dict "
                    + "(from export, or saved from PyTorch, e.g. torchvision's ResNet-50 into resnet50 --width 64 on images over 64 px) or a .dtt "
                    + "checkpoint. Loaded strictly by name and shape (every missing, unexpected or mis-shaped tensor is listed); a "
                    + "classification head that does not fit is skipped."})
    Path init;

    @Option(names = "--compare-random",
            description = "With --backbone or --init: evaluate the same architecture from random initialisation too.")
    boolean compareRandom;

    /** What {@code --init} loaded, once {@link #sources} has checked it. */
    private InitWeights.Report initReport;

    /**
     * The sources to evaluate, pretrained first. {@code inChannels} and {@code imageSize} size a random backbone
     * (its stem follows the image size).
     */
    List<BackboneSource> sources(int inChannels, int imageSize) throws IOException {
        List<BackboneSource> list = new ArrayList<>();
        if (checkpoint != null && random != null) throw usage("give either --backbone FILE or --random NAME, not both");
        if (init != null && random == null)
            throw usage("--init FILE needs --random NAME, the architecture to load it into" + (checkpoint != null ? " (not --backbone FILE)" : ""));
        if (checkpoint == null && random == null) throw usage("give the backbone to evaluate: --backbone FILE or --random NAME");
        if (checkpoint != null) {
            Path file = checkpoint;
            if (!Files.isRegularFile(file)) throw usage("--backbone: no such file: " + file);
            BackboneSource p = BackboneSource.pretrained(file);
            list.add(p);
            if (compareRandom) list.add(BackboneSource.randomInit(p.config()));
        } else {
            if (compareRandom && init == null)
                throw usage("--compare-random needs --backbone FILE or --init FILE (--random alone already is the random baseline)");
            if (width < 1) throw usage("--width must be > 0, got " + width);
            ModelConfig config;
            try {
                config = Backbones.config(random, width, inChannels, imageSize, 0);
            } catch (IllegalArgumentException e) {
                throw usage(DreamTeacherCli.Errors.oneLine(e.getMessage()));
            }
            if (init != null) {
                if (!Files.isRegularFile(init)) throw usage("--init: no such file: " + init);
                // Checked once here, so that a file that does not fit fails before any run, with every problem listed.
                try (ConfiguredModule probe = config.build()) {
                    initReport = InitWeights.load(init, probe);
                }
                list.add(BackboneSource.initialised(config, init));
                if (compareRandom) list.add(BackboneSource.randomInit(config));
            } else {
                list.add(BackboneSource.randomInit(config));
            }
        }
        return list;
    }

    /** Prints what {@code --init} loaded (nothing without it), under the run's header. */
    void printInit(java.io.PrintWriter out) {
        if (initReport != null) out.printf(java.util.Locale.ROOT, "  init: %s%n", initReport.describe());
    }

    /** How the backbone is named in the run's header. */
    String describe(List<BackboneSource> sources) {
        BackboneSource first = sources.get(0);
        String arch = Backbones.describe(first.config());
        String s = first.isRandom() ? arch + " from random initialisation"
                : first.init() != null ? arch + " initialised from " + first.init() : first.checkpoint() + " (" + arch + ")";
        return sources.size() > 1 ? s + ", and the same from random initialisation" : s;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(mixee.commandLine(), message);
    }
}
