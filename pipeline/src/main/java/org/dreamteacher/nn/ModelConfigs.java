package org.dreamteacher.nn;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import java.util.TreeMap;

/** The registry of config kinds and their JSON form. Unknown kinds and unknown fields are errors. */
public final class ModelConfigs {
    private static final Map<String, Class<? extends ModelConfig>> KINDS = new TreeMap<>();
    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    static {
        // One line per model family. Keep kinds stable: checkpoints store them.
        register("resnet", ResNetConfig.class);
        register("convnext", ConvNeXtConfig.class);
        register("regressor", FeatureRegressorConfig.class);
        register("interpreter", InterpreterConfig.class);
        register("seghead", SegmentationHeadConfig.class);
        register("unet", org.dreamteacher.diffusion.UNetConfig.class);
        register("diffusion", org.dreamteacher.diffusion.DiffusionConfig.class);
        register("gan-generator", org.dreamteacher.gan.GanConfig.class);
        register("gan-discriminator", org.dreamteacher.gan.DiscriminatorConfig.class);
    }

    private ModelConfigs() {}

    static synchronized void register(String kind, Class<? extends ModelConfig> type) {
        Class<? extends ModelConfig> old = KINDS.putIfAbsent(kind, type);
        if (old != null && old != type) throw new IllegalStateException("config kind '" + kind + "' registered twice");
    }

    /** The config as a JSON tree (without its kind). */
    public static JsonNode toJson(ModelConfig config) {
        return JSON.valueToTree(config);
    }

    /** Rebuilds a config of the given kind from its JSON tree. */
    public static ModelConfig fromJson(String kind, JsonNode json) {
        Class<? extends ModelConfig> type;
        synchronized (ModelConfigs.class) {
            type = KINDS.get(kind);
        }
        if (type == null) throw new IllegalArgumentException("unknown model kind '" + kind + "' (known: " + KINDS.keySet() + ")");
        try {
            return JSON.treeToValue(json, type);
        } catch (Exception e) {
            throw new IllegalArgumentException("invalid " + kind + " config: " + e.getMessage(), e);
        }
    }
}
