package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.require;

import java.util.List;
import org.dreamteacher.torch.TorchRuntime;

/**
 * A light FPN-style segmentation head for fine-tuning a backbone on scene segmentation.
 *
 * @param inChannels channels of each feature level it reads (e.g. C2..C5), in the order they are passed
 * @param channels width of the lateral projections and of the fused map
 * @param numClasses classes of the logits (>= 1)
 * @param fuse "sum" (add the resized laterals) or "concat" (concatenate them)
 */
public record SegmentationHeadConfig(List<Long> inChannels, int channels, int numClasses, String fuse)
        implements ModelConfig {
    public static final String KIND = "seghead";

    public SegmentationHeadConfig {
        require(inChannels != null && !inChannels.isEmpty() && inChannels.size() <= 16,
                "seghead inChannels must list 1..16 levels, got " + inChannels);
        for (Long c : inChannels) require(c != null && c > 0, "seghead inChannels must be > 0, got " + inChannels);
        inChannels = List.copyOf(inChannels);
        require(channels > 0 && channels <= 65536, "seghead channels must be in 1..65536, got " + channels);
        require(numClasses >= 1, "seghead numClasses must be >= 1, got " + numClasses);
        require("sum".equals(fuse) || "concat".equals(fuse), "seghead fuse must be \"sum\" or \"concat\", got " + fuse);
    }

    /** A head for a backbone's C2..C5, summing 128-channel laterals. */
    public static SegmentationHeadConfig forBackbone(Backbone backbone, int numClasses) {
        return new SegmentationHeadConfig(FeatureRegressorConfig.boxed(backbone.featureChannels()), 128, numClasses, "sum");
    }

    @Override
    public String kind() {
        return KIND;
    }

    /** A lateral 1x1 convolution of each input level to {@code channels}, and a 3x3 fusion from at least {@code channels}. */
    @Override
    public long minimumParameters() {
        double total = 9.0 * channels * channels;
        for (Long c : inChannels) total += (double) c * channels;
        return (long) total; // saturates at Long.MAX_VALUE
    }

    @Override
    public SegmentationHead build() {
        TorchRuntime.init();
        return new SegmentationHead(this);
    }
}
