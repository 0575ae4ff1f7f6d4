package org.dreamteacher.parallel;

import java.util.List;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.TensorVector;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.SeededRandom;

/**
 * What a training loop needs to know about data-parallel training, as four calls at fixed places in its step:
 * {@link #shard} picks this rank's share of each global batch, {@link #begin} makes every rank start from the
 * same step and weights, {@link #reduceGradients} averages the gradients between backward and the optimiser
 * step, {@link #afterStep} keeps the models' buffers (BatchNorm statistics) equal on every rank; and
 * {@link #writesFiles} says whether this rank writes the run's checkpoints, logs and pictures (rank 0 only).
 * {@link #SINGLE} is the ordinary, single-process case: every call does nothing.
 */
public interface DataParallel {
    /** One process: no sharding, no communication, writes its files. */
    DataParallel SINGLE = new DataParallel() {
        @Override
        public int rank() {
            return 0;
        }

        @Override
        public int worldSize() {
            return 1;
        }

        @Override
        public void begin(long step, List<? extends Module> modules) {}

        @Override
        public void reduceGradients(TensorVector parameters) {}

        @Override
        public void afterStep(List<? extends Module> modules) {}
    };

    int rank();

    int worldSize();

    default boolean isLeader() {
        return rank() == 0;
    }

    /** Whether this process writes the run's files: checkpoints, metrics, final models, pictures. */
    default boolean writesFiles() {
        return isLeader();
    }

    /**
     * The seed of libtorch's generator for one step, which draws the dropout masks: {@code base} itself on rank 0,
     * so that a single process keeps its seeds, and a different seed on every other rank, so that the ranks do
     * not drop the same units of their different samples.
     */
    default long stepSeed(long base) {
        return rank() == 0 ? base : SeededRandom.mix(base, rank());
    }

    /** This rank's view of the run's batches (each global batch split into equal, contiguous shards). */
    default Batches shard(Batches global) {
        return global.shard(rank(), worldSize());
    }

    /**
     * Called once before the first step of a run (fresh or resumed at {@code step}, after the models and optimiser
     * are built or loaded): fails unless every rank starts at the same step, then copies rank 0's parameters and
     * buffers of {@code modules} to every rank.
     */
    void begin(long step, List<? extends Module> modules);

    /**
     * Between backward and the optimiser step: replaces each parameter's gradient by its mean over the ranks. One
     * run may train several parameter sets one after the other (label guidance: the interpreter, then the student).
     */
    void reduceGradients(TensorVector parameters);

    /** After the optimiser step: averages the floating-point buffers (BatchNorm running statistics) over the ranks. */
    void afterStep(List<? extends Module> modules);

    /**
     * Whether {@code flag} is true on any rank (a collective: every rank must call it at the same point). A single
     * process returns {@code flag}.
     */
    default boolean anyRank(boolean flag) {
        return flag;
    }
}
