package org.dreamteacher.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.SafeTensors;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.torch.TensorFileException;

/**
 * One file per model: its weights and buffers (BatchNorm statistics included), its config as JSON, a format
 * version and optional extra tensors and JSON (training state). Written atomically; loading rebuilds the
 * model from the file alone and fails with a message naming the file on a wrong, truncated or corrupt file.
 */
public final class Checkpoints {
    /** Version of the checkpoint layout inside a {@link TensorFile}. */
    public static final int CHECKPOINT_VERSION = 1;
    private static final String WEIGHT_PREFIX = "model/";
    private static final String EXTRA_PREFIX = "extra/";

    /** A loaded checkpoint: the rebuilt model plus the extra state saved with it. */
    public record Loaded(ConfiguredModule model, JsonNode extra, Map<String, Tensor> extraTensors) {}

    private Checkpoints() {}

    public static void save(Path file, ConfiguredModule model) throws IOException {
        save(file, model, null, Map.of());
    }

    /** Saves the model with extra JSON and extra tensors (for example optimiser state), atomically. */
    public static void save(Path file, ConfiguredModule model, JsonNode extra, Map<String, Tensor> extraTensors)
            throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : state(model).entrySet()) tensors.put(WEIGHT_PREFIX + e.getKey(), e.getValue());
            for (Map.Entry<String, Tensor> e : extraTensors.entrySet()) tensors.put(EXTRA_PREFIX + e.getKey(), e.getValue());
            ObjectNode meta = JsonNodeFactory.instance.objectNode();
            meta.put("content", "dreamteacher-checkpoint");
            meta.put("checkpointVersion", CHECKPOINT_VERSION);
            meta.put("kind", model.config().kind());
            meta.set("config", ModelConfigs.toJson(model.config()));
            meta.set("extra", extra == null ? JsonNodeFactory.instance.objectNode() : extra);
            TensorFile.write(file, meta, tensors);
        }
    }

    /** What a conversion wrote: the model's kind and the number of tensors. */
    public record Conversion(String kind, int tensors) {}

    /** Metadata keys of an exported safetensors file (values are strings, as the format requires). */
    public static final String META_FORMAT = "format", META_KIND = "dreamteacher.kind", META_CONFIG = "dreamteacher.config";

    /**
     * Writes the model of {@code checkpoint} as a safetensors file: its state dict under the model's own names
     * (no {@code model/} prefix; BatchNorm buffers included), with the metadata {@code format = pt},
     * {@code dreamteacher.kind} and {@code dreamteacher.config} (the config as JSON text), from which
     * {@link #importSafeTensors} rebuilds the checkpoint. Extra training state is not exported.
     */
    public static Conversion exportSafeTensors(Path checkpoint, Path out) throws IOException {
        try (ConfiguredModule model = load(checkpoint); PointerScope scope = new PointerScope()) {
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put(META_FORMAT, "pt");
            meta.put(META_KIND, model.config().kind());
            meta.put(META_CONFIG, ModelConfigs.toJson(model.config()).toString());
            Map<String, Tensor> state = state(model);
            SafeTensors.write(out, meta, state);
            return new Conversion(model.config().kind(), state.size());
        }
    }

    /**
     * The reverse of {@link #exportSafeTensors}: rebuilds the model from the file's {@code dreamteacher.kind} and
     * {@code dreamteacher.config} metadata, loads its tensors strictly (every name, shape and dtype of the model,
     * nothing else, checked before any tensor is read) and saves it as a checkpoint.
     */
    public static Conversion importSafeTensors(Path safetensors, Path checkpoint) throws IOException {
        ConfiguredModule[] built = new ConfiguredModule[1];
        StateDictMatch.Plan[] plan = new StateDictMatch.Plan[1];
        SafeTensors.Contents contents;
        try {
            contents = SafeTensors.read(safetensors, (meta, entries) -> {
                ModelConfig config = exportedConfig(safetensors, meta);
                long bytes = 0;
                for (SafeTensors.Entry e : entries) bytes += e.bytes();
                checkSize(safetensors, config, bytes);
                built[0] = config.build();
                java.util.List<StateDictMatch.Item> items = new java.util.ArrayList<>();
                for (SafeTensors.Entry e : entries) items.add(StateDictMatch.Item.of(e));
                plan[0] = StateDictMatch.plan(safetensors, built[0], items, false);
            });
        } catch (IOException | RuntimeException e) {
            if (built[0] != null) built[0].close();
            throw e;
        }
        try (ConfiguredModule model = built[0]) {
            try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                Map<String, Tensor> state = state(model);
                for (String name : plan[0].load()) state.get(name).copy_(contents.tensors().get(name));
            }
            save(checkpoint, model);
            return new Conversion(model.config().kind(), plan[0].load().size());
        } finally {
            for (Tensor t : contents.tensors().values()) t.close();
        }
    }

    private static ModelConfig exportedConfig(Path file, Map<String, String> meta) throws TensorFileException {
        String kind = meta.get(META_KIND), config = meta.get(META_CONFIG);
        if (kind == null || config == null)
            throw new TensorFileException(file, "has no " + (kind == null ? META_KIND : META_CONFIG) + " metadata, so the model it holds is unknown:"
                    + " only files written by 'dreamteacher export' convert to a checkpoint (to start a backbone from other weights, use --init)");
        try {
            return ModelConfigs.fromJson(kind, ModelConfigs.JSON.readTree(config));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new TensorFileException(file, META_CONFIG + " is not JSON: " + e.getOriginalMessage());
        } catch (IllegalArgumentException e) {
            throw new TensorFileException(file, e.getMessage());
        }
    }

    /**
     * Refuses a config that would make build() allocate far more than the file could ever fill (a forged 1 KB
     * file must not ask for gigabytes); smaller mismatches are left to the per-tensor checks, which name the tensor.
     */
    private static void checkSize(Path file, ModelConfig config, long weightBytes) throws TensorFileException {
        long minimum = config.minimumParameters();
        if (minimum > (weightBytes + (64L << 20)) / 4)
            throw new TensorFileException(file, "its config describes a " + config.kind() + " of at least " + minimum + " parameters, but the file"
                    + " holds " + weightBytes + " bytes of weights: corrupt or forged; refusing to build it");
    }

    /** Loads a model of any kind. */
    public static ConfiguredModule load(Path file) throws IOException {
        return loadWithState(file).model();
    }

    /** Loads a model that must be of the given class. */
    public static <T extends ConfiguredModule> T load(Path file, Class<T> type) throws IOException {
        return ofType(load(file), type, kind -> new TensorFileException(file, "holds a '" + kind + "' model, not a " + type.getSimpleName()));
    }

    /** {@code m} as a {@code type}; otherwise closes it and throws the error made from its kind. */
    private static <T extends ConfiguredModule> T ofType(ConfiguredModule m, Class<T> type, Function<String, IOException> wrongKind)
            throws IOException {
        if (!type.isInstance(m)) {
            String kind = m.config().kind();
            m.close();
            throw wrongKind.apply(kind);
        }
        return type.cast(m);
    }

    /**
     * Loads a model of the given class from a class-path resource of {@code anchor}'s class loader. Checkpoints are
     * read from files, so the resource is copied to a temporary file first (deleted again before this returns).
     *
     * @param what how messages name the resource, e.g. "the shipped teacher"
     * @param missing the message of the {@link FileNotFoundException} thrown when the resource is not on the class
     *     path (say which artifact ships it)
     */
    public static <T extends ConfiguredModule> T loadResource(Class<?> anchor, String resource, Class<T> type, String what, String missing)
            throws IOException {
        Path tmp = Files.createTempFile("dreamteacher-resource-", ".dtt");
        try {
            try (InputStream in = anchor.getResourceAsStream(resource)) {
                if (in == null) throw new FileNotFoundException(missing);
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            return ofType(load(tmp), type, kind -> new IOException(what + " " + resource + " holds a '" + kind + "' model, not a " + type.getSimpleName()));
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Loads the model and the extra state saved with it. */
    public static Loaded loadWithState(Path file) throws IOException {
        // The model is built from the header alone and every tensor name, shape and dtype is checked against it
        // before TensorFile allocates anything for the tensors.
        ConfiguredModule[] built = new ConfiguredModule[1];
        TensorFile.Contents contents;
        try {
            contents = TensorFile.read(file, (meta, entries) -> built[0] = checkHeader(file, meta, entries));
        } catch (IOException | RuntimeException e) {
            if (built[0] != null) built[0].close();
            throw e;
        }
        ConfiguredModule model = built[0];
        JsonNode meta = contents.meta();
        try {
            Map<String, Tensor> extras = new LinkedHashMap<>();
            Set<String> seen = new HashSet<>();
            Map<String, Tensor> state = state(model);
            try (NoGradGuard ng = new NoGradGuard()) {
                for (Map.Entry<String, Tensor> e : contents.tensors().entrySet()) {
                    String name = e.getKey();
                    if (name.startsWith(EXTRA_PREFIX)) {
                        extras.put(name.substring(EXTRA_PREFIX.length()), e.getValue());
                        continue;
                    }
                    String key = name.startsWith(WEIGHT_PREFIX) ? name.substring(WEIGHT_PREFIX.length()) : name;
                    Tensor target = state.get(key);
                    if (target == null) throw new TensorFileException(file, "tensor '" + key + "' does not belong to a " + model.config().kind() + " built from its config");
                    Tensor source = e.getValue();
                    if (!java.util.Arrays.equals(target.sizes().vec().get(), source.sizes().vec().get()))
                        throw new TensorFileException(file, "tensor '" + key + "' has the wrong shape for its config");
                    if (target.scalar_type().intern() != source.scalar_type().intern())
                        throw new TensorFileException(file, "tensor '" + key + "' has the wrong dtype");
                    target.copy_(source);
                    seen.add(key);
                }
            }
            for (String key : state.keySet())
                if (!seen.contains(key)) throw new TensorFileException(file, "tensor '" + key + "' is missing");
            return new Loaded(model, meta.path("extra"), extras);
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Checks a checkpoint's header (content, version, config, and every tensor's name, shape and dtype against
     * the model its config builds) and returns that model; nothing of the file's tensors is allocated yet.
     */
    private static ConfiguredModule checkHeader(Path file, JsonNode meta, java.util.List<TensorFile.Entry> entries) throws TensorFileException {
        if (!"dreamteacher-checkpoint".equals(meta.path("content").asText()))
            throw new TensorFileException(file, "is a tensor file but not a model checkpoint");
        int version = meta.path("checkpointVersion").asInt(-1);
        if (version != CHECKPOINT_VERSION)
            throw new TensorFileException(file, "checkpoint version " + version + " (this library reads " + CHECKPOINT_VERSION + ")");
        ModelConfig config;
        try {
            config = ModelConfigs.fromJson(meta.path("kind").asText(""), meta.path("config"));
        } catch (IllegalArgumentException e) {
            throw new TensorFileException(file, e.getMessage());
        }
        long weightBytes = 0;
        for (TensorFile.Entry e : entries)
            if (!e.name().startsWith(EXTRA_PREFIX)) weightBytes += e.bytes();
        checkSize(file, config, weightBytes);
        ConfiguredModule model = config.build();
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> state = state(model);
            Set<String> seen = new HashSet<>();
            for (TensorFile.Entry e : entries) {
                if (e.name().startsWith(EXTRA_PREFIX)) continue;
                String key = e.name().startsWith(WEIGHT_PREFIX) ? e.name().substring(WEIGHT_PREFIX.length()) : e.name();
                Tensor target = state.get(key);
                if (target == null)
                    throw new TensorFileException(file, "tensor '" + key + "' does not belong to a " + config.kind() + " built from its config");
                if (!java.util.Arrays.equals(target.sizes().vec().get(), e.shape()))
                    throw new TensorFileException(file, "tensor '" + key + "' has the wrong shape for its config: "
                            + java.util.Arrays.toString(e.shape()) + ", expected " + java.util.Arrays.toString(target.sizes().vec().get()));
                seen.add(key);
            }
            for (String key : state.keySet())
                if (!seen.contains(key)) throw new TensorFileException(file, "tensor '" + key + "' is missing");
            return model;
        } catch (TensorFileException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Parameters and buffers by their dotted names. */
    static Map<String, Tensor> state(ConfiguredModule model) {
        Map<String, Tensor> state = new LinkedHashMap<>();
        StringTensorDict params = model.named_parameters(true);
        for (long i = 0; i < params.size(); i++) state.put(params.get(i).key().getString(), params.get(i).value());
        StringTensorDict buffers = model.named_buffers(true);
        for (long i = 0; i < buffers.size(); i++) state.put(buffers.get(i).key().getString(), buffers.get(i).value());
        return state;
    }
}
