package org.dreamteacher.diffusion;

import java.util.Map;
import org.dreamteacher.nn.ModelConfig;
import org.dreamteacher.nn.ModelKinds;

/** The diffusion kinds of {@link org.dreamteacher.nn.ModelConfigs}: the bare U-Net and the teacher with its schedule. */
public final class DiffusionModelKinds implements ModelKinds {
    @Override
    public Map<String, Class<? extends ModelConfig>> kinds() {
        return Map.of("unet", UNetConfig.class, "diffusion", DiffusionConfig.class);
    }
}
