package org.dreamteacher.diffusion;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;

/**
 * The diffusion teacher shipped in {@code org.dreamteacher:dreamteacher-assets} (a DDPM trained on Fashion-MNIST:
 * U-Net 1x28x28, base 32, channel multipliers 1, 2, 2, one residual block per level, attention at 7x7, taps 0,
 * 2, 4 at strides 4, 2, 1), found on the class path when that artifact is there. Checkpoints are read from files,
 * so the resource is copied to a temporary file first.
 */
public final class ShippedTeacher {
    /** Classpath location of the checkpoint. */
    public static final String RESOURCE = "/org/dreamteacher/assets/models/fashion-mnist-teacher.dtt";

    private ShippedTeacher() {}

    public static boolean isPresent() {
        return ShippedTeacher.class.getResource(RESOURCE) != null;
    }

    /**
     * Loads the shipped teacher.
     *
     * @throws FileNotFoundException when dreamteacher-assets is not on the class path
     */
    public static GaussianDiffusion load() throws IOException {
        Path tmp = Files.createTempFile("dreamteacher-teacher-", ".dtt");
        try {
            try (InputStream in = ShippedTeacher.class.getResourceAsStream(RESOURCE)) {
                if (in == null) throw new FileNotFoundException(missingMessage());
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            ConfiguredModule m = Checkpoints.load(tmp);
            if (!(m instanceof GaussianDiffusion d)) {
                String kind = m.config().kind();
                m.close();
                throw new IOException("the shipped teacher " + RESOURCE + " holds a '" + kind + "' model, not a diffusion teacher");
            }
            return d;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static String missingMessage() {
        return "the shipped teacher (" + RESOURCE + ") is not on the class path (it ships in "
                + "org.dreamteacher:dreamteacher-assets): pass --teacher FILE "
                + "(a teacher.dtt written by 'dreamteacher train-teacher')";
    }
}
