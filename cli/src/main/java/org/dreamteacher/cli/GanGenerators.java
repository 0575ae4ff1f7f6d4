package org.dreamteacher.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.gan.ShippedGan;
import org.dreamteacher.nn.Checkpoints;

/**
 * What the options that name a GAN generator ({@code --gan}, {@code --generator}) take: a {@code generator.dtt}
 * written by {@code train-gan}, or the word {@value ShippedGan#NAME} for the generator in dreamteacher-assets. A
 * file of that name is still reachable as {@code ./shipped}.
 */
final class GanGenerators {
    private GanGenerators() {}

    static boolean isShipped(Path gan) {
        return gan.toString().equals(ShippedGan.NAME);
    }

    /** Checks the option's value before any work starts: an existing file, or a shipped generator that is present. */
    static void check(CliCommand command, Path gan, String option) {
        if (!isShipped(gan)) {
            command.requireFile(gan, option);
        } else if (!ShippedGan.isPresent()) {
            throw command.usage(option + " " + ShippedGan.NAME + ": this build has no shipped GAN generator (" + ShippedGan.RESOURCE
                    + ", in org.dreamteacher:dreamteacher-assets): pass a generator.dtt written by 'dreamteacher train-gan'");
        }
    }

    static GanGenerator open(Path gan) throws IOException {
        return isShipped(gan) ? ShippedGan.load() : Checkpoints.load(gan, GanGenerator.class);
    }

    /** How results and logs name it: the file's absolute path, or {@code shipped:} and the resource. */
    static String describe(Path gan) {
        return isShipped(gan) ? "shipped:" + ShippedGan.RESOURCE : gan.toAbsolutePath().normalize().toString();
    }
}
