package org.dreamteacher.nn;

import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * A generative model seen as a feature extractor: given noised images x_t (N, C, H, W) and their integer
 * timesteps t (N, int64), one forward returns its multi-scale features, largest stride first. Implemented
 * by our U-Net and by TorchScript modules exported elsewhere.
 */
public interface FeatureTeacher {
    List<FeatureMap> features(Tensor xt, Tensor t);

    /** Input channels the teacher expects. */
    long inChannels();
}
