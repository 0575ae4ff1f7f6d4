package org.dreamteacher.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.dreamteacher.nn.ModelConfigs;
import org.junit.jupiter.api.Test;

/** nn's registry of kinds learns the diffusion kinds through ServiceLoader, without naming this package. */
class DiffusionModelKindsTest {
    @Test
    void theRegistryRebuildsDiffusionConfigsFromJson() {
        UNetConfig u = DiffusionTestSupport.tinyConfig();
        DiffusionConfig d = new DiffusionConfig(u, 100, "cosine");
        assertEquals(u, ModelConfigs.fromJson("unet", ModelConfigs.toJson(u)));
        assertEquals(d, ModelConfigs.fromJson("diffusion", ModelConfigs.toJson(d)));
    }

    @Test
    void everyKindIsKnown() {
        var e = assertThrows(IllegalArgumentException.class, () -> ModelConfigs.fromJson("gan", ModelConfigs.toJson(DiffusionTestSupport.tinyConfig())));
        assertEquals("unknown model kind 'gan' (known: [convnext, diffusion, gan-discriminator, gan-generator, interpreter, regressor, resnet, seghead, unet])", e.getMessage());
    }
}
