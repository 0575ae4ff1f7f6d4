package org.dreamteacher.diffusion;

import java.io.FileNotFoundException;
import java.io.IOException;
import org.dreamteacher.nn.Checkpoints;

/**
 * The diffusion teacher shipped in {@code org.dreamteacher:dreamteacher-assets} (a DDPM trained on Fashion-MNIST:
 * U-Net 1x28x28, base 32, channel multipliers 1, 2, 2, one residual block per level, attention at 7x7, taps 0,
 * 2, 4 at strides 4, 2, 1), found on the class path when that artifact is there.
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
        return Checkpoints.loadResource(ShippedTeacher.class, RESOURCE, GaussianDiffusion.class, "the shipped teacher", missingMessage());
    }

    static String missingMessage() {
        return "the shipped teacher (" + RESOURCE + ") is not on the class path (it ships in "
                + "org.dreamteacher:dreamteacher-assets): pass --teacher FILE "
                + "(a teacher.dtt written by 'dreamteacher train-teacher')";
    }
}
