package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.require;

import java.util.List;
import org.dreamteacher.torch.TorchRuntime;

/**
 * A ConvNeXt (Liu et al., 2022) as the official implementation builds it, with configurable depths and dims so
 * that small variants fit small images and small machines.
 *
 * @param depths blocks per stage, four values >= 1 (ConvNeXt-T: 3, 3, 9, 3)
 * @param dims channels per stage, four values >= 1 (ConvNeXt-T: 96, 192, 384, 768)
 * @param inChannels 1 (grey) or 3 (RGB)
 * @param numClasses outputs of the linear head, 0 for none
 * @param stemStride 4: the usual 4x4/4 patchify stem; 2: a 2x2/2 patchify stem; 1: a 3x3/1 conv (padding 1)
 *     that keeps the input size, for 28-64 px images. C2..C5 are at strides s, 2s, 4s, 8s.
 * @param dropPath maximum stochastic-depth rate, rising linearly over the blocks from 0 (0 disables it)
 * @param layerScaleInit initial value of the per-channel layer scale gamma (official: 1e-6); 0 disables it
 */
public record ConvNeXtConfig(List<Integer> depths, List<Integer> dims, int inChannels, int numClasses,
        int stemStride, double dropPath, double layerScaleInit) implements ModelConfig {
    public static final String KIND = "convnext";

    public ConvNeXtConfig {
        require(depths != null && depths.size() == 4, "convnext depths must have 4 values, got " + depths);
        require(dims != null && dims.size() == 4, "convnext dims must have 4 values, got " + dims);
        for (Integer d : depths) require(d != null && d >= 1 && d <= 1000, "convnext depths must be in 1..1000, got " + depths);
        for (Integer d : dims) require(d != null && d >= 1 && d <= 65536, "convnext dims must be in 1..65536, got " + dims);
        depths = List.copyOf(depths);
        dims = List.copyOf(dims);
        require(inChannels == 1 || inChannels == 3, "convnext inChannels must be 1 or 3, got " + inChannels);
        require(numClasses >= 0, "convnext numClasses must be >= 0 (0 = no head), got " + numClasses);
        require(stemStride == 1 || stemStride == 2 || stemStride == 4, "convnext stemStride must be 1, 2 or 4, got " + stemStride);
        require(dropPath >= 0 && dropPath < 1, "convnext dropPath must be in [0, 1), got " + dropPath);
        require(layerScaleInit >= 0 && Double.isFinite(layerScaleInit),
                "convnext layerScaleInit must be finite and >= 0, got " + layerScaleInit);
    }

    /** Given depths and dims, no drop path, layer scale 1e-6. */
    /** Every block has two linear layers, dim x 4 dim each. */
    @Override
    public long minimumParameters() {
        double total = 0;
        for (int stage = 0; stage < 4; stage++) total += 8.0 * depths.get(stage) * dims.get(stage) * dims.get(stage);
        return (long) total; // saturates at Long.MAX_VALUE
    }

    public static ConvNeXtConfig of(List<Integer> depths, List<Integer> dims, int inChannels, int numClasses, int stemStride) {
        return new ConvNeXtConfig(depths, dims, inChannels, numClasses, stemStride, 0.0, 1e-6);
    }

    /** ConvNeXt-T (28 M parameters with 1000 classes). */
    public static ConvNeXtConfig tiny(int inChannels, int numClasses) {
        return of(List.of(3, 3, 9, 3), List.of(96, 192, 384, 768), inChannels, numClasses, 4);
    }

    public ConvNeXtConfig withNumClasses(int n) {
        return new ConvNeXtConfig(depths, dims, inChannels, n, stemStride, dropPath, layerScaleInit);
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public ConvNeXt build() {
        TorchRuntime.init();
        return new ConvNeXt(this);
    }
}
