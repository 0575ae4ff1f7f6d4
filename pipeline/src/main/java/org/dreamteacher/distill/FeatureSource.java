package org.dreamteacher.distill;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.data.Batches;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.TeacherInput;

/**
 * Where the distillation targets of a batch come from: the teacher run on the spot ({@link OnlineFeatures})
 * or a feature store made beforehand ({@link StoredFeatures}). The training loop asks for the targets of each
 * batch and does not care which; both are deterministic functions of (batch, step), so a resumed run sees
 * the same targets as an uninterrupted one.
 */
public interface FeatureSource {
    /**
     * The teacher's feature maps of {@code batch}'s images, (B, C, H, W) float32 each, largest stride first as
     * the teacher returns them; {@code step} is the global training step. Called inside the training step's
     * {@code PointerScope}, which then owns the tensors.
     */
    List<FeatureMap> features(Batches.Batch batch, long step);

    /**
     * What the student learns from in {@code step}: images and the teacher's feature maps of them. By default the
     * batch's own images with {@link #features}; a source that makes its images (a GAN generator, whose features are
     * recorded while it draws them) returns those instead, and the student then sees only them. Called inside the
     * training step's {@code PointerScope} and a {@code NoGradGuard}.
     */
    default Sample sample(Batches.Batch batch, long step) {
        return new Sample(batch.images(), features(batch, step));
    }

    /** Images (B, C, H, W) in [-1, 1] and the teacher's feature maps of them, largest stride first. */
    record Sample(Tensor images, List<FeatureMap> features) {}

    /**
     * Where the interpreter of a label-guided run reads the teacher's features of the labelled images
     * ({@code labelled}): by default this source. A source whose features are not of the batch's images (a GAN
     * generator's) returns one that is, and may keep what it computed for that in {@code runDir} for a resumed
     * run.
     */
    default FeatureSource forLabelledImages(Batches labelled, Path runDir, long seed) throws IOException {
        return this;
    }

    /** A one-line description for logs and run state. */
    String describe();

    /** Whether the teacher behind these features received noised or clean images (recorded in the run state). */
    default TeacherInput teacherInput() {
        return TeacherInput.NOISED;
    }
}
