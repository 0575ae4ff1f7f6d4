package org.dreamteacher.train;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A training run kept in a run folder: checkpoints, {@code metrics.jsonl} and, when its last step is done, its
 * final files. One run per folder at a time ({@link RunLock}); a run that stopped continues with {@code resume}.
 *
 * @param <R> what a finished call reports
 */
public interface ResumableRun<R> {
    /** Trains (or, with {@code resume} and a checkpoint in {@code runDir}, continues) to the last step. */
    default R run(Path runDir, boolean resume) throws IOException {
        return run(runDir, resume, Long.MAX_VALUE);
    }

    /**
     * As {@link #run(Path, boolean)}, but stops after step {@code stopAfter} (for time-boxed jobs) with a
     * checkpoint there, from which a later call with {@code resume} continues; the final files are written only
     * when the last step is done (the result then counts the steps of this call).
     */
    R run(Path runDir, boolean resume, long stopAfter) throws IOException;
}
