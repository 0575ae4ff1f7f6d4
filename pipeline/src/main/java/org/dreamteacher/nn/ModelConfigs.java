package org.dreamteacher.nn;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import java.util.ServiceLoader;
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
        // The kinds of the packages above this one (diffusion: unet, diffusion; gan: gan-generator, gan-discriminator), which this package must not name.
        for (ModelKinds more : ServiceLoader.load(ModelKinds.class, ModelConfigs.class.getClassLoader())) more.kinds().forEach(ModelConfigs::register);
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
