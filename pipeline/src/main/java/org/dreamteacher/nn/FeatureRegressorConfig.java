package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.require;

import java.util.HashSet;
import java.util.List;
import org.dreamteacher.torch.TorchRuntime;

/**
 * The feature regressor that maps backbone features onto the teacher's (FPN top-down path over every level read,
 * PPM on the coarsest, a prediction at each level compared with a teacher feature).
 *
 * @param backboneChannels channels of the backbone levels it reads, finest first (e.g. C2..C5): all of them feed
 *                         the top-down path
 * @param teacherChannels channels of the teacher feature predicted at each output level, same order
 * @param channels width of the FPN (paper: 256)
 * @param ppmBins output sizes of the pyramid pooling module's adaptive average pools (paper: 1, 2, 3, 6)
 * @param outputLevels the levels (indices into {@code backboneChannels}, increasing) that predict a teacher
 *                     feature; {@code null} (checkpoints written before this field existed) means every level
 */
public record FeatureRegressorConfig(List<Long> backboneChannels, List<Long> teacherChannels, int channels,
        List<Integer> ppmBins, List<Integer> outputLevels) implements ModelConfig {
    public static final String KIND = "regressor";
    public static final List<Integer> DEFAULT_BINS = List.of(1, 2, 3, 6);

    public FeatureRegressorConfig {
        require(backboneChannels != null && !backboneChannels.isEmpty() && backboneChannels.size() <= 8,
                "regressor backboneChannels must list 1..8 levels, got " + backboneChannels);
        if (outputLevels == null) {
            outputLevels = java.util.stream.IntStream.range(0, backboneChannels.size()).boxed().toList();
        }
        require(!outputLevels.isEmpty(), "regressor outputLevels must not be empty");
        for (int i = 0; i < outputLevels.size(); i++) {
            Integer l = outputLevels.get(i);
            require(l != null && l >= 0 && l < backboneChannels.size() && (i == 0 || l > outputLevels.get(i - 1)),
                    "regressor outputLevels must be increasing levels in 0.." + (backboneChannels.size() - 1) + ", got "
                            + outputLevels);
        }
        require(teacherChannels != null && teacherChannels.size() == outputLevels.size(),
                "regressor teacherChannels must list one value per output level (" + outputLevels.size()
                        + "), got " + teacherChannels);
        for (Long c : backboneChannels) require(c != null && c > 0, "regressor backboneChannels must be > 0, got " + backboneChannels);
        for (Long c : teacherChannels) require(c != null && c > 0, "regressor teacherChannels must be > 0, got " + teacherChannels);
        require(channels > 0 && channels <= 65536, "regressor channels must be in 1..65536, got " + channels);
        require(ppmBins != null && !ppmBins.isEmpty(), "regressor ppmBins must not be empty");
        for (Integer b : ppmBins) require(b != null && b > 0 && b <= 64, "regressor ppmBins must be in 1..64, got " + ppmBins);
        require(new HashSet<>(ppmBins).size() == ppmBins.size(), "regressor ppmBins must be distinct, got " + ppmBins);
        backboneChannels = List.copyOf(backboneChannels);
        teacherChannels = List.copyOf(teacherChannels);
        ppmBins = List.copyOf(ppmBins);
        outputLevels = List.copyOf(outputLevels);
    }

    /** A prediction at every level read. */
    public FeatureRegressorConfig(List<Long> backboneChannels, List<Long> teacherChannels, int channels,
            List<Integer> ppmBins) {
        this(backboneChannels, teacherChannels, channels, ppmBins, null);
    }

    /**
     * The convolution weights: per output level a 3x3 smoothing and a 1x1 projection to the teacher's channels,
     * 1x1 laterals on the levels below the top down to the finest output, and on the top level the PPM's 1x1
     * stages and its 3x3 bottleneck.
     */
    @Override
    public long minimumParameters() {
        double c = channels, total = 0;
        int levels = backboneChannels.size();
        double top = backboneChannels.get(levels - 1), bins = ppmBins.size();
        for (int k = 0; k < outputLevels.size(); k++) total += 9 * c * c + c * teacherChannels.get(k);
        for (int l = finestOutput(); l < levels - 1; l++) total += c * backboneChannels.get(l);
        total += bins * top * c + 9 * (top + bins * c) * c;
        return (long) total; // saturates at Long.MAX_VALUE
    }

    /** The paper's regressor: 256 channels, PPM bins 1, 2, 3, 6. */
    public static FeatureRegressorConfig of(long[] backboneChannels, long[] teacherChannels) {
        return of(backboneChannels, teacherChannels, 256);
    }

    public static FeatureRegressorConfig of(long[] backboneChannels, long[] teacherChannels, int channels) {
        return new FeatureRegressorConfig(boxed(backboneChannels), boxed(teacherChannels), channels, DEFAULT_BINS);
    }

    /**
     * A regressor that reads every backbone level and predicts the teacher's features at {@code outputLevels}
     * (increasing), {@code teacherChannels[k]} channels at {@code outputLevels[k]}.
     */
    public static FeatureRegressorConfig of(long[] backboneChannels, int[] outputLevels, long[] teacherChannels,
            int channels) {
        require(outputLevels != null, "outputLevels is null");
        return new FeatureRegressorConfig(boxed(backboneChannels), boxed(teacherChannels), channels, DEFAULT_BINS,
                java.util.Arrays.stream(outputLevels).boxed().toList());
    }

    /** The finest level that predicts a teacher feature: the top-down path ends there. */
    public int finestOutput() {
        return outputLevels.get(0);
    }

    static List<Long> boxed(long[] xs) {
        require(xs != null, "channel list is null");
        return java.util.Arrays.stream(xs).boxed().toList();
    }

    /** Number of levels. */
    public int levels() {
        return backboneChannels.size();
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public FeatureRegressor build() {
        TorchRuntime.init();
        return new FeatureRegressor(this);
    }
}
