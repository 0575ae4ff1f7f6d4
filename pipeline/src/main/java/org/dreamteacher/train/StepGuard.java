package org.dreamteacher.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.parallel.DataParallel;

/**
 * The check between backward (and the gradient all-reduce) and the optimiser step: the loss and the gradient
 * norm must be finite on every rank, agreed through {@link DataParallel#anyRank}, so that every rank stops
 * at the same step and no rank takes a step from a non-finite gradient. The weights, the optimiser state and
 * the checkpoints therefore never hold what a NaN or an infinity would have made of them.
 */
public final class StepGuard {
    private StepGuard() {}

    /** Thrown when a step is refused; the message says what to do. */
    public static final class NonFiniteStepException extends IllegalStateException {
        private final long step;

        NonFiniteStepException(String message, long step) {
            super(message);
            this.step = step;
        }

        /** The step (0-based) that was not taken. */
        public long step() {
            return step;
        }
    }

    /**
     * The L2 norm, in double, of the gradients of {@code params} (parameters without a gradient count as 0);
     * NaN or infinite when any gradient element is.
     */
    public static double gradientNorm(TensorVector params) {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            double sum = 0;
            for (long i = 0; i < params.size(); i++) {
                Tensor g = params.get(i).grad();
                if (g == null || g.isNull() || !g.defined()) continue;
                // each tensor's norm in double: float32 squares of finite gradients must not overflow to inf
                double n = g.to(ScalarType.Double).norm().item_double();
                sum += n * n;
            }
            return Math.sqrt(sum);
        }
    }

    /**
     * Refuses step {@code step} (0-based) unless {@code loss} and the gradient norm of {@code params} are finite
     * on every rank. Call after {@link DataParallel#reduceGradients} and before clipping and the optimiser step.
     *
     * @param what       what is trained ("the loss", "the interpreter's loss"), for the message
     * @param lastSaved  the newest checkpoint's description (folder and step), asked for only on a refusal
     * @param advice     what to do, e.g. "start afresh in another --out folder with a lower --lr"
     */
    public static void check(DataParallel parallel, TensorVector params, double loss, long step, String what,
            java.util.function.Supplier<String> lastSaved, String advice) {
        double norm = gradientNorm(params);
        boolean bad = !Double.isFinite(loss) || !Double.isFinite(norm);
        boolean anyBad = parallel.anyRank(bad);
        if (!anyBad) return;
        String where = bad ? (what + " " + loss + ", gradient norm " + norm)
                : ("on another rank (here " + what + " " + loss + ", gradient norm " + norm + ")");
        throw new NonFiniteStepException("step " + (step + 1) + ": " + (bad ? "non-finite " : "a non-finite loss or gradient ") + where
                + "; the step was not taken, so the weights, the optimiser state and every checkpoint hold only finite values"
                + lastCheckpoint(lastSaved) + ". " + advice, step);
    }

    private static String lastCheckpoint(java.util.function.Supplier<String> lastSaved) {
        if (lastSaved == null) return "";
        String s = lastSaved.get();
        return s == null ? "" : " (last checkpoint: " + s + ")";
    }

    /** Whether every floating-point element of {@code t} is finite. */
    public static boolean allFinite(Tensor t) {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            if (!t.is_floating_point() || t.numel() == 0) return true;
            return torch.isfinite(t).all().item_bool();
        }
    }
}
