package org.dreamteacher.diffusion;

/**
 * One decoder (output) block of a {@link UNet} that can be tapped for features, described from the config
 * alone so that callers can pair taps with backbone levels of the same stride before building or running
 * anything.
 *
 * @param index      the block's index in the decoder, 0-based as ADM's {@code output_blocks}
 * @param name       the name its feature map gets, {@code "out" + index}
 * @param channels   channels of the block's output
 * @param stride     input size / output size of the block (after its upsampling, if it has one)
 * @param resolution the block's output size for an input of the config's {@code imageSize}
 * @param attention  whether the block contains a self-attention layer
 */
public record TapInfo(int index, String name, int channels, int stride, int resolution, boolean attention) {}
