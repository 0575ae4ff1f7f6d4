package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.require;

import org.dreamteacher.torch.TorchRuntime;

/**
 * A ResNet as torchvision builds it (v1.5: stride on the 3x3 conv of a bottleneck), with two knobs for small
 * images and small machines: {@code smallStem} replaces the 7x7/2 conv and the max-pool by a 3x3/1 conv (for
 * 28-64 px inputs), and {@code width} scales every stage (torchvision: 64).
 *
 * @param depth 18 or 34 (basic blocks) or 50 (bottlenecks)
 * @param width channels of the stem and of the first stage; stages have width, 2, 4 and 8 times width
 *     (times 4 at the output of bottleneck stages)
 * @param inChannels 1 (grey) or 3 (RGB)
 * @param numClasses outputs of the linear head, 0 for none
 * @param smallStem 3x3 stride-1 stem without max-pool: C2..C5 at strides 1, 2, 4, 8 instead of 4, 8, 16, 32
 */
public record ResNetConfig(int depth, int width, int inChannels, int numClasses, boolean smallStem)
        implements ModelConfig {
    public static final String KIND = "resnet";

    public ResNetConfig {
        require(depth == 18 || depth == 34 || depth == 50, "resnet depth must be 18, 34 or 50, got " + depth);
        require(width > 0 && width <= 4096, "resnet width must be in 1..4096, got " + width);
        require(inChannels == 1 || inChannels == 3, "resnet inChannels must be 1 or 3, got " + inChannels);
        require(numClasses >= 0, "resnet numClasses must be >= 0 (0 = no head), got " + numClasses);
    }

    /** torchvision's configuration: width 64, standard stem. */
    public static ResNetConfig standard(int depth, int inChannels, int numClasses) {
        return new ResNetConfig(depth, 64, inChannels, numClasses, false);
    }

    /** A ResNet for small images (3x3/1 stem, no max-pool) of the given width. */
    public static ResNetConfig small(int depth, int width, int inChannels, int numClasses) {
        return new ResNetConfig(depth, width, inChannels, numClasses, true);
    }

    public ResNetConfig withNumClasses(int n) {
        return new ResNetConfig(depth, width, inChannels, n, smallStem);
    }

    public ResNetConfig withWidth(int w) {
        return new ResNetConfig(depth, w, inChannels, numClasses, smallStem);
    }

    /** Every block has a 3x3 convolution from and to its stage's (inner) width, width x 2^stage. */
    @Override
    public long minimumParameters() {
        double total = 0;
        int[] blocks = blocks();
        for (int stage = 0; stage < 4; stage++) {
            long c = (long) width << stage;
            total += 9.0 * blocks[stage] * c * c;
        }
        return (long) total; // saturates at Long.MAX_VALUE
    }

    /** Bottleneck blocks (channel expansion 4) rather than basic blocks. */
    boolean bottleneck() {
        return depth >= 50;
    }

    int[] blocks() {
        return switch (depth) {
            case 18 -> new int[] {2, 2, 2, 2};
            case 34, 50 -> new int[] {3, 4, 6, 3};
            default -> throw new IllegalStateException();
        };
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public ResNet build() {
        TorchRuntime.init();
        return new ResNet(this);
    }
}
