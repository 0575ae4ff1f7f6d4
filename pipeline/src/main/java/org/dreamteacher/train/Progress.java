package org.dreamteacher.train;

import java.time.Duration;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar with rate and ETA on standard error for long loops, or nothing when disabled (tests,
 * scripts that parse the output). A resumed loop starts the bar at its current step.
 */
public final class Progress implements AutoCloseable {
    private static volatile boolean enabled = !Boolean.getBoolean("dreamteacher.noProgress");
    private final ProgressBar bar;

    private Progress(ProgressBar bar) {
        this.bar = bar;
    }

    /** Turns bars on or off for this JVM (the CLI's {@code --no-progress}). */
    public static void setEnabled(boolean on) {
        enabled = on;
    }

    public static Progress start(String task, long total, long startAt, String unit) {
        if (!enabled) return new Progress(null);
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).showSpeed().setUnit(" " + unit, 1);
        if (startAt > 0) b.startsFrom(startAt, Duration.ZERO);
        return new Progress(b.build());
    }

    public void step(String message) {
        if (bar == null) return;
        bar.step();
        if (message != null) bar.setExtraMessage(message);
    }

    public void stepTo(long n, String message) {
        if (bar == null) return;
        bar.stepTo(n);
        if (message != null) bar.setExtraMessage(message);
    }

    @Override
    public void close() {
        if (bar != null) bar.close();
    }
}
