package org.dreamteacher.train;

/**
 * Learning rate with linear warm-up then cosine decay to {@code minFraction · base}, as a pure function of
 * the step so that a resumed run follows the same curve.
 */
public record CosineSchedule(double base, long warmupSteps, long totalSteps, double minFraction) {
    public CosineSchedule {
        if (!(base > 0) || !Double.isFinite(base)) throw new IllegalArgumentException("learning rate must be > 0, got " + base);
        if (totalSteps <= 0) throw new IllegalArgumentException("total steps must be > 0, got " + totalSteps);
        if (warmupSteps < 0 || warmupSteps > totalSteps) throw new IllegalArgumentException("warm-up steps must be in [0, total]");
        if (!(minFraction >= 0 && minFraction <= 1)) throw new IllegalArgumentException("minFraction must be in [0, 1]");
    }

    /** The rate for step {@code step} (0-based). */
    public double at(long step) {
        if (step < warmupSteps) return base * (step + 1) / warmupSteps;
        long decay = totalSteps - warmupSteps;
        double progress = decay == 0 ? 1 : Math.min(1.0, (double) (step - warmupSteps) / decay);
        return base * (minFraction + (1 - minFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }

    /** Sets every parameter group of {@code optimizer} to the rate of {@code step}. */
    public void apply(org.bytedeco.pytorch.Optimizer optimizer, long step) {
        double rate = at(step);
        org.bytedeco.pytorch.OptimizerParamGroupVector groups = optimizer.param_groups();
        for (long i = 0; i < groups.size(); i++) groups.get(i).options().set_lr(rate);
    }
}
