package org.dreamteacher.gan;

import java.io.FileNotFoundException;
import java.io.IOException;
import org.dreamteacher.nn.Checkpoints;

/**
 * The GAN teacher shipped in {@code org.dreamteacher:dreamteacher-assets}: the EMA generator of a
 * {@code train-gan} run on the full Fashion-MNIST training split (width 64: blocks of 64, 64, 32 and 16 channels
 * at 4, 8, 16 and 32 px, z and w of 64), found on the class path when that artifact is there. The command lines
 * name it {@value #NAME}.
 */
public final class ShippedGan {
    /** Classpath location of the checkpoint. */
    public static final String RESOURCE = "/org/dreamteacher/assets/models/fashion-mnist-gan.dtt";
    /** What {@code --gan} takes for this generator instead of a file. */
    public static final String NAME = "shipped";

    private ShippedGan() {}

    public static boolean isPresent() {
        return ShippedGan.class.getResource(RESOURCE) != null;
    }

    /**
     * Loads the shipped generator.
     *
     * @throws FileNotFoundException when dreamteacher-assets is not on the class path
     */
    public static GanGenerator load() throws IOException {
        return Checkpoints.loadResource(ShippedGan.class, RESOURCE, GanGenerator.class, "the shipped GAN generator",
                "the shipped GAN generator (" + RESOURCE + ") is not on the class path (it ships in org.dreamteacher:dreamteacher-assets):"
                        + " pass --gan FILE (a generator.dtt written by 'dreamteacher train-gan')");
    }
}
