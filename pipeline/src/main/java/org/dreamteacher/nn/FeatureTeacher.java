package org.dreamteacher.nn;

import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * A generative model seen as a feature extractor: one forward returns its multi-scale features, largest stride
 * first. Implemented by our U-Net and by TorchScript modules exported elsewhere.
 *
 * <p>Most teachers take images already noised in pixel space ({@link TeacherInput#NOISED}): given x_t
 * (N, C, H, W) and the integer timesteps t (N, int64), {@link #features}. A teacher that noises its own latents
 * ({@link TeacherInput#CLEAN}) takes the clean images instead, with t and noise of {@link #noiseShape}, in
 * {@link #featuresOfClean}. The callers draw the noise either way, from their seeded streams, so a seed fixes
 * the features whichever contract the teacher follows.
 */
public interface FeatureTeacher {
    /** Features of images noised to x_t at timesteps t; only for {@link TeacherInput#NOISED} teachers. */
    List<FeatureMap> features(Tensor xt, Tensor t);

    /** Input channels the teacher expects. */
    long inChannels();

    /** Which of {@link #features} and {@link #featuresOfClean} this teacher answers. */
    default TeacherInput input() {
        return TeacherInput.NOISED;
    }

    /**
     * The shape of the noise for clean images {@code x0}, batch size first: the shape of a latent teacher's
     * latents. A {@link TeacherInput#NOISED} teacher's noise has the images' shape.
     */
    default long[] noiseShape(Tensor x0) {
        return x0.sizes().vec().get();
    }

    /**
     * Features of clean images x0 (N, C, H, W) at timesteps t (N, int64), with float32 noise of shape
     * {@link #noiseShape}(x0) that the teacher adds itself (to its latents); only for {@link TeacherInput#CLEAN}
     * teachers.
     */
    default List<FeatureMap> featuresOfClean(Tensor x0, Tensor t, Tensor noise) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " takes images noised in pixel space: call features(xt, t)");
    }
}
