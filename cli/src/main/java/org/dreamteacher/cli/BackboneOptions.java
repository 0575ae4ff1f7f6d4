package org.dreamteacher.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dreamteacher.eval.BackboneSource;
import org.dreamteacher.nn.ModelConfig;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Which backbone an evaluation starts from: a checkpoint, or an architecture from random initialisation. */
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

    @Option(names = "--compare-random", description = "With --backbone: evaluate the same architecture from random initialisation too.")
    boolean compareRandom;

    /**
     * The sources to evaluate, pretrained first. {@code inChannels} and {@code imageSize} size a random backbone
     * (its stem follows the image size).
     */
    List<BackboneSource> sources(int inChannels, int imageSize) throws IOException {
        List<BackboneSource> list = new ArrayList<>();
        if (checkpoint != null && random != null) throw usage("give either --backbone FILE or --random NAME, not both");
        if (checkpoint == null && random == null) throw usage("give the backbone to evaluate: --backbone FILE or --random NAME");
        if (checkpoint != null) {
            Path file = checkpoint;
            if (!Files.isRegularFile(file)) throw usage("--backbone: no such file: " + file);
            BackboneSource p = BackboneSource.pretrained(file);
            list.add(p);
            if (compareRandom) list.add(BackboneSource.randomInit(p.config()));
        } else {
            if (compareRandom) throw usage("--compare-random needs --backbone FILE (--random already is the random baseline)");
            if (width < 1) throw usage("--width must be > 0, got " + width);
            ModelConfig config;
            try {
                config = BackboneChoice.config(random, width, inChannels, imageSize, 0);
            } catch (IllegalArgumentException e) {
                throw usage(DreamTeacherCli.Errors.oneLine(e.getMessage()));
            }
            list.add(BackboneSource.randomInit(config));
        }
        return list;
    }

    /** How the backbone is named in the run's header. */
    String describe(List<BackboneSource> sources) {
        BackboneSource first = sources.get(0);
        String arch = BackboneChoice.describe(first.config());
        String s = first.isRandom() ? arch + " from random initialisation" : first.checkpoint() + " (" + arch + ")";
        return sources.size() > 1 ? s + ", and the same from random initialisation" : s;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(mixee.commandLine(), message);
    }
}
