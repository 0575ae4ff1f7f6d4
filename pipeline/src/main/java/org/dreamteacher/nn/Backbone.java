package org.dreamteacher.nn;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * An image backbone as the rest of the library sees it: multi-scale features C2..C5 for distillation and dense
 * heads, plus an optional classification head for fine-tuning and linear probing. The channel counts and
 * strides are known from the config alone, so regressors and heads can be built before any forward.
 *
 * <p>Implementations are {@link ConfiguredModule}s; their parameter names follow the reference PyTorch
 * implementations (torchvision's ResNet, the official ConvNeXt), which keeps checkpoints readable.
 */
public interface Backbone {
    /** Names of the four feature levels, finest first. */
    List<String> LEVEL_NAMES = List.of("c2", "c3", "c4", "c5");

    /**
     * The four stage outputs C2..C5 of {@code x} (N, inChannels, H, W), finest first, named "c2".."c5", each
     * with its nominal stride relative to the input ({@link #featureStrides()}); for sizes that are not a
     * multiple of the stride the maps are rounded as the convolutions round them.
     */
    List<FeatureMap> features(Tensor x);

    /** Channels of C2..C5. */
    long[] featureChannels();

    /** Nominal strides of C2..C5 relative to the input (4, 8, 16, 32 with a standard stem). */
    int[] featureStrides();

    /** Global average pool of C5: (N, C5 channels), the input of the classification head. */
    Tensor pooledFeatures(Tensor x);

    /** Class logits (N, numClasses): global average pool of C5 and the linear head. Fails without a head. */
    Tensor classify(Tensor x);

    /**
     * {@link #classify} on maps that {@link #features} already computed (training code that needs both the maps
     * and the logits of one batch runs the backbone once).
     */
    Tensor classifyFeatures(List<FeatureMap> features);

    /** Input channels the backbone expects (1 for grey, 3 for RGB). */
    long inChannels();

    /** Classes of the current head, 0 when there is none. */
    int numClasses();

    /**
     * Replaces the classification head by a freshly initialised one with {@code numClasses} outputs (0 removes
     * it), for fine-tuning on a task with another class count. The module's config follows, so a checkpoint
     * saved afterwards rebuilds the new head. Optimisers built before hold the old head's tensors: build them
     * after this call.
     */
    void resetHead(int numClasses);

    /**
     * Prefixes of the state-dict names that belong to the classification head ({@code fc.} for ResNet;
     * {@code norm.} and {@code head.} for ConvNeXt, whose final norm exists only with a head): what weights
     * from elsewhere may leave out or bring in another size when they initialise the backbone.
     */
    List<String> headPrefixes();

    /** Parameters of the feature extractor only (everything but the head). */
    List<Tensor> backboneParameters();

    /** Parameters of the classification head (empty without a head). */
    List<Tensor> headParameters();

    /**
     * Stops (or restarts) gradients to the feature extractor, for linear probing. Freezing does not change
     * BatchNorm: put the module in eval mode as well so that its running statistics stay fixed.
     */
    default void freezeBackbone(boolean frozen) {
        for (Tensor p : backboneParameters()) p.set_requires_grad(!frozen);
    }

    /** The tensors of feature maps, in the same order (for heads that take plain tensors). */
    static List<Tensor> tensors(List<FeatureMap> maps) {
        List<Tensor> out = new ArrayList<>(maps.size());
        for (FeatureMap m : maps) out.add(m.tensor());
        return out;
    }
}
