package org.dreamteacher.nn;

import java.util.Locale;

/**
 * What a teacher's forward receives. With {@link #NOISED} the project noises the images in pixel space with the
 * teacher's schedule and passes x_t and t, which suits a pixel-space diffusion model. A latent diffusion model
 * adds its noise to the latents of its own encoder, which the project cannot do for it: with {@link #CLEAN} it
 * receives the clean images, t and the noise (drawn from the project's seeded stream, shaped as the teacher
 * asks), and encodes and noises them itself.
 */
public enum TeacherInput {
    /** {@code features(x_t, t)}: images already noised in pixel space. */
    NOISED("noised"),
    /** {@code featuresOfClean(x_0, t, noise)}: clean images; the teacher encodes and noises them. */
    CLEAN("clean");

    private final String key;

    TeacherInput(String key) {
        this.key = key;
    }

    /** The name used on the command line and in run and store records: "noised" or "clean". */
    public String key() {
        return key;
    }

    /** The contract named {@code text} ("noised" or "clean", any case). */
    public static TeacherInput parse(String text) {
        String k = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        for (TeacherInput i : values()) if (i.key.equals(k)) return i;
        throw new IllegalArgumentException("the teacher input must be 'noised' or 'clean', got '" + text + "'");
    }
}
