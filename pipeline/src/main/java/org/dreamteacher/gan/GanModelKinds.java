package org.dreamteacher.gan;

import java.util.Map;
import org.dreamteacher.nn.ModelConfig;
import org.dreamteacher.nn.ModelKinds;

/** The GAN kinds of {@link org.dreamteacher.nn.ModelConfigs}: the generator and the discriminator. */
public final class GanModelKinds implements ModelKinds {
    @Override
    public Map<String, Class<? extends ModelConfig>> kinds() {
        return Map.of("gan-generator", GanConfig.class, "gan-discriminator", DiscriminatorConfig.class);
    }
}
