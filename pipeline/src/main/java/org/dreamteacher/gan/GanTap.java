package org.dreamteacher.gan;

/**
 * One synthesis block of a {@link GanGenerator} that is recorded as a feature tap, described from the config alone
 * so that callers can pair taps with backbone levels of the same stride before building or running anything.
 *
 * @param index      the block's index, 0 for the 4x4 block
 * @param name       the name its feature map gets, {@code "b" + resolution}
 * @param channels   channels of the block's output
 * @param stride     generated image size / block output size (relative to the canvas, see {@link GanConfig#canvasSize()})
 * @param resolution the block's output size
 */
public record GanTap(int index, String name, int channels, int stride, int resolution) {}
