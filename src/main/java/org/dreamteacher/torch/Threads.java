package org.dreamteacher.torch;

import java.util.Locale;

/**
 * How many CPU threads libtorch and the loss kernels use. By default every processor the process may use
 * ({@link Runtime#availableProcessors()}, which honours CPU quotas and affinity), unless {@code --threads} or
 * the {@code OMP_NUM_THREADS} environment variable says otherwise. libtorch's own default is not used: on the
 * 2-core virtual machines this project is built on it picked 1 thread, leaving half the machine idle.
 * Data-parallel workers get {@code OMP_NUM_THREADS} from their launcher, so they divide the cores between them.
 *
 * <p>{@link TorchRuntime#init()} applies {@link #defaultChoice()} to libtorch; the native loss kernels apply it
 * when they load (unless {@code DT_NUM_THREADS} is set); the command line applies {@code --threads} on top.
 */
public final class Threads {
    private static volatile Choice current;

    private Threads() {}

    /** A thread count and why it was chosen (for {@code dreamteacher info}). */
    public record Choice(int threads, String reason) {
        public Choice {
            if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
    }

    /**
     * The thread count for a process that may use {@code availableProcessors} processors: {@code option}
     * ({@code --threads}) when given, else the first number of {@code ompNumThreads} (OpenMP allows a list such
     * as "4,2") when it is a positive integer, else all available processors. Pure: no environment is read.
     */
    public static Choice choose(int availableProcessors, Integer option, String ompNumThreads) {
        int all = Math.max(1, availableProcessors);
        if (option != null) {
            if (option < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + option);
            return new Choice(option, "--threads " + option);
        }
        String ignored = "";
        if (ompNumThreads != null && !ompNumThreads.isBlank()) {
            String first = ompNumThreads.split(",", -1)[0].trim();
            int n = -1;
            if (first.matches("\\d{1,6}")) n = Integer.parseInt(first);
            if (n >= 1) return new Choice(n, "OMP_NUM_THREADS=" + ompNumThreads.trim());
            ignored = "OMP_NUM_THREADS='" + ompNumThreads.trim() + "' ignored; ";
        }
        return new Choice(all, String.format(Locale.ROOT, "%sall %d available processor%s; --threads or OMP_NUM_THREADS to change",
                ignored, all, all == 1 ? "" : "s"));
    }

    /** The default for this process: all available processors unless OMP_NUM_THREADS says otherwise. */
    public static Choice defaultChoice() {
        return choose(Runtime.getRuntime().availableProcessors(), null, System.getenv("OMP_NUM_THREADS"));
    }

    /** The choice last applied to libtorch (the default until {@code --threads} replaces it). */
    public static Choice current() {
        Choice c = current;
        return c != null ? c : defaultChoice();
    }

    /** Sets libtorch's intra-op threads to the choice and remembers it. Loads libtorch if needed. */
    public static void applyToTorch(Choice choice) {
        TorchRuntime.init();
        setTorch(choice);
    }

    static void setTorch(Choice choice) {
        org.bytedeco.pytorch.global.torch.set_num_threads(choice.threads());
        current = choice;
    }
}
