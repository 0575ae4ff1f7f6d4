package org.dreamteacher.nn;

import org.bytedeco.pytorch.Tensor;

/**
 * One named feature map of a network, (N, C, H, W), with its stride relative to the input (input height /
 * feature height), so that teacher taps can be paired with backbone levels of the same stride.
 */
public record FeatureMap(String name, Tensor tensor, int stride) {
    public long channels() {
        return tensor.size(1);
    }
}
