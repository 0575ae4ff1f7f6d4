package org.dreamteacher.nn;

import java.util.Map;

/**
 * Model kinds that packages above {@code nn} add to {@link ModelConfigs}, found with {@link java.util.ServiceLoader}
 * (a line in {@code META-INF/services/org.dreamteacher.nn.ModelKinds}), so that checkpoints of every kind load
 * while {@code nn} depends on none of those packages. An implementation needs a public no-argument constructor.
 */
public interface ModelKinds {
    /** Each kind, as checkpoints store it, and its config class. Kinds must stay stable: checkpoints store them. */
    Map<String, Class<? extends ModelConfig>> kinds();
}
