package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.require;

import java.util.List;
import org.dreamteacher.torch.TorchRuntime;

/**
 * The label-guided feature interpreter (a DatasetGAN-style pixel classifier on the frozen teacher's features).
 *
 * @param teacherChannels channels of each teacher feature level it reads, in the order they are passed
 * @param channels width of the per-level projections and of the fused map (paper: 256)
 * @param numClasses classes of the logits (>= 1)
 * @param dropout dropout rate before the logits (paper: 0.1)
 */
public record InterpreterConfig(List<Long> teacherChannels, int channels, int numClasses, double dropout)
        implements ModelConfig {
    public static final String KIND = "interpreter";

    public InterpreterConfig {
        require(teacherChannels != null && !teacherChannels.isEmpty() && teacherChannels.size() <= 16,
                "interpreter teacherChannels must list 1..16 levels, got " + teacherChannels);
        for (Long c : teacherChannels) require(c != null && c > 0, "interpreter teacherChannels must be > 0, got " + teacherChannels);
        teacherChannels = List.copyOf(teacherChannels);
        require(channels > 0 && channels <= 65536, "interpreter channels must be in 1..65536, got " + channels);
        require(numClasses >= 1, "interpreter numClasses must be >= 1, got " + numClasses);
        require(dropout >= 0 && dropout < 1, "interpreter dropout must be in [0, 1), got " + dropout);
    }

    /** The paper's interpreter: 256 channels, dropout 0.1. */
    public static InterpreterConfig of(long[] teacherChannels, int numClasses) {
        return new InterpreterConfig(FeatureRegressorConfig.boxed(teacherChannels), 256, numClasses, 0.1);
    }

    @Override
    public String kind() {
        return KIND;
    }

    /** A 1x1 projection of each teacher level to {@code channels}, the 1x1 fusion of their concatenation, the classifier. */
    @Override
    public long minimumParameters() {
        double total = ((double) teacherChannels.size() * channels + numClasses) * channels;
        for (Long c : teacherChannels) total += (double) c * channels;
        return (long) total; // saturates at Long.MAX_VALUE
    }

    @Override
    public PixelInterpreter build() {
        TorchRuntime.init();
        return new PixelInterpreter(this);
    }
}
