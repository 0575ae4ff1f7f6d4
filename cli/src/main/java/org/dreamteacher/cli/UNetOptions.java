package org.dreamteacher.cli;

import java.util.ArrayList;
import java.util.List;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.UNetConfig;
import picocli.CommandLine.Option;

/** The teacher's architecture and noise schedule (defaults: the shipped Fashion-MNIST teacher's). */
final class UNetOptions {
    @Option(names = "--base-channels", paramLabel = "N", defaultValue = "32", description = "Channels of the first level (default: ${DEFAULT-VALUE}).")
    int baseChannels;

    @Option(names = "--channel-mult", paramLabel = "M,M,...", split = ",", defaultValue = "1,2,2",
            description = "Channel multiplier per resolution level (default: ${DEFAULT-VALUE}).")
    List<Integer> channelMult;

    @Option(names = "--res-blocks", paramLabel = "N", defaultValue = "1", description = "Residual blocks per level (default: ${DEFAULT-VALUE}).")
    int resBlocks;

    @Option(names = "--attention", paramLabel = "RES,...", split = ",",
            description = "Feature-map sizes with self-attention, or 'none' (default: the coarsest level, 7 for 28 px).")
    List<String> attention;

    @Option(names = "--heads", paramLabel = "N", defaultValue = "4", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--taps", paramLabel = "I,I,...", split = ",", defaultValue = "0,2,4",
            description = "Decoder blocks whose outputs are the teacher's features (default: ${DEFAULT-VALUE}: strides 4, 2, 1 with the "
                    + "default levels).")
    List<Integer> taps;

    @Option(names = "--timesteps", paramLabel = "T", defaultValue = "1000", description = "Diffusion steps (default: ${DEFAULT-VALUE}).")
    int timesteps;

    @Option(names = "--schedule", paramLabel = "NAME", defaultValue = "linear", description = "Noise schedule: linear or cosine (default: ${DEFAULT-VALUE}).")
    String schedule;

    /** The config for images of {@code channels} x {@code size} x {@code size}; bad values raise IllegalArgumentException. */
    DiffusionConfig config(int channels, int size) {
        List<Integer> mult = channelMult;
        int coarsest = size >> Math.max(0, mult.size() - 1);
        List<Integer> resolutions = new ArrayList<>();
        if (attention == null || attention.isEmpty()) {
            resolutions.add(coarsest);
        } else if (!(attention.size() == 1 && attention.get(0).equalsIgnoreCase("none"))) {
            for (String a : attention) {
                try {
                    resolutions.add(Integer.parseInt(a.trim()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--attention: '" + a + "' is not a feature-map size (or 'none')");
                }
            }
        }
        UNetConfig u = UNetConfig.of(channels, size, baseChannels, mult).withNumResBlocks(resBlocks)
                .withAttention(resolutions, heads, true).withTaps(taps);
        return new DiffusionConfig(u, timesteps, schedule);
    }
}
