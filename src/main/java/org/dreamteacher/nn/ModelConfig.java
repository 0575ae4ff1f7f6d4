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
}
