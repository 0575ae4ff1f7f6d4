package org.dreamteacher.nn;

/**
 * The architecture and hyper-parameters of a model, as an immutable record that Jackson writes to and reads
 * from JSON. A config alone rebuilds its model (with fresh weights); checkpoints store the config beside the
 * weights. Each implementation is listed in {@link ModelConfigs} under its {@link #kind()}.
 */
public interface ModelConfig {
    /** The name the config is stored under in checkpoints, e.g. {@code "unet"}. */
    String kind();

    /** Builds a new model with freshly initialised weights. */
    ConfiguredModule build();

    /**
     * A lower bound of the model's parameter count, computed from the config alone (its largest weights), so
     * that a checkpoint whose config claims a model far larger than the weights the file holds is refused before
     * anything is allocated: a forged 1 KB file must not make {@link #build()} ask for gigabytes. 0 means no bound.
     */
    default long minimumParameters() {
        return 0;
    }
}
