package org.dreamteacher.eval;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.InitWeights;
import org.dreamteacher.nn.ModelConfig;
import org.dreamteacher.torch.TorchRuntime;

/**
 * Where the backbone of an evaluation run comes from: a checkpoint (pretrained weights), a config alone
 * (random initialisation), or a config whose backbone starts from weights saved elsewhere ({@link InitWeights}).
 * Every run trains its backbone, so each run opens a fresh copy; a random init is seeded from the run's seed,
 * which makes the "random" baseline vary over seeds exactly as the subsets do.
 *
 * @param name       how the init is called in results and tables ("pretrained", "random", ...)
 * @param checkpoint the checkpoint to load, or null to build from {@code config}
 * @param config     the config to build from when {@code checkpoint} is null (otherwise the checkpoint's)
 * @param init       weights loaded into the backbone built from {@code config} (safetensors or a checkpoint),
 *                   or null; only without {@code checkpoint}
 */
public record BackboneSource(String name, Path checkpoint, ModelConfig config, Path init) {
    public BackboneSource {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) throw new IllegalArgumentException("a backbone source needs a name");
        if (checkpoint == null && config == null) throw new IllegalArgumentException("a backbone source needs a checkpoint or a config");
        if (checkpoint != null && init != null) throw new IllegalArgumentException("a backbone source has a checkpoint or init weights, not both");
        if (init != null && config == null) throw new IllegalArgumentException("init weights need the config of the backbone they load into");
    }

    public BackboneSource(String name, Path checkpoint, ModelConfig config) {
        this(name, checkpoint, config, null);
    }

    /** Pretrained weights from a checkpoint, named "pretrained". */
    public static BackboneSource pretrained(Path checkpoint) throws IOException {
        return new BackboneSource("pretrained", checkpoint, configOf(checkpoint));
    }

    /**
     * The backbone built from {@code config}, started from the weights in {@code init} (loaded at each
     * {@link #open}), named "pretrained".
     */
    public static BackboneSource initialised(ModelConfig config, Path init) {
        return new BackboneSource("pretrained", null, config, init);
    }

    /** A freshly initialised backbone built from {@code config}, named "random". */
    public static BackboneSource randomInit(ModelConfig config) {
        return new BackboneSource("random", null, config);
    }

    /**
     * The protocol's comparison: the checkpoint, and the same architecture from random initialisation (the
     * checkpoint's own config, so nothing but the weights differs).
     */
    public static List<BackboneSource> pretrainedAndRandom(Path checkpoint) throws IOException {
        BackboneSource p = pretrained(checkpoint);
        return List.of(p, randomInit(p.config()));
    }

    /** The same source under another name. */
    public BackboneSource named(String newName) {
        return new BackboneSource(newName, checkpoint, config, init);
    }

    /** Whether this source starts from random weights. */
    public boolean isRandom() {
        return checkpoint == null && init == null;
    }

    /**
     * A new backbone module, owned by the caller (close it): the checkpoint's weights, or weights drawn from
     * libtorch's generator seeded with {@code seed} (then replaced by those of {@code init}, except a head that
     * does not fit).
     */
    public ConfiguredModule open(long seed) throws IOException {
        TorchRuntime.init();
        ConfiguredModule m;
        if (checkpoint != null) {
            m = Checkpoints.load(checkpoint);
        } else {
            torch.manual_seed(seed);
            m = config.build();
            if (init != null) {
                try {
                    InitWeights.load(init, m);
                } catch (IOException | RuntimeException e) {
                    m.close();
                    throw e;
                }
            }
        }
        if (!(m instanceof Backbone)) {
            String kind = m.config().kind();
            m.close();
            throw new IllegalArgumentException("'" + name + "' is a " + kind + " model, not a backbone");
        }
        return m;
    }

    private static ModelConfig configOf(Path checkpoint) throws IOException {
        Objects.requireNonNull(checkpoint, "checkpoint");
        ConfiguredModule m = Checkpoints.load(checkpoint);
        try {
            if (!(m instanceof Backbone)) throw new IllegalArgumentException(checkpoint + " holds a " + m.config().kind() + " model, not a backbone");
            return m.config();
        } finally {
            m.close();
        }
    }
}
