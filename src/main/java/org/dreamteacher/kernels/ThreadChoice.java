package org.dreamteacher.kernels;

import java.util.Locale;

/**
 * How many CPU threads to use, and why: by default every processor the process may use
 * ({@link Runtime#availableProcessors()}, which honours CPU quotas and affinity), unless {@code --threads} or the
 * {@code OMP_NUM_THREADS} environment variable says otherwise. The loss kernels apply {@link #defaultChoice()} when
 * they load (unless {@code DT_NUM_THREADS} is set, which the C library reads itself); libtorch's side
 * ({@code org.dreamteacher.torch.Threads}) applies the same choice, because libtorch's own default picked 1 thread on
 * the 2-core virtual machines this project is built on.
 *
 * @param threads the thread count, at least 1
 * @param reason  why, for {@code dreamteacher info}
 */
public record ThreadChoice(int threads, String reason) {
    public ThreadChoice {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }

    /**
     * The thread count for a process that may use {@code availableProcessors} processors: {@code option}
     * ({@code --threads}) when given, else the first number of {@code ompNumThreads} (OpenMP allows a list such
     * as "4,2") when it is a positive integer, else all available processors. Pure: no environment is read.
     */
    public static ThreadChoice choose(int availableProcessors, Integer option, String ompNumThreads) {
        int all = Math.max(1, availableProcessors);
        if (option != null) {
            if (option < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + option);
            return new ThreadChoice(option, "--threads " + option);
        }
        String ignored = "";
        if (ompNumThreads != null && !ompNumThreads.isBlank()) {
            String first = ompNumThreads.split(",", -1)[0].trim();
            int n = -1;
            if (first.matches("\\d{1,6}")) n = Integer.parseInt(first);
            if (n >= 1) return new ThreadChoice(n, "OMP_NUM_THREADS=" + ompNumThreads.trim());
            ignored = "OMP_NUM_THREADS='" + ompNumThreads.trim() + "' ignored; ";
        }
        return new ThreadChoice(all, String.format(Locale.ROOT, "%sall %d available processor%s; --threads or OMP_NUM_THREADS to change",
                ignored, all, all == 1 ? "" : "s"));
    }

    /** The default for this process: all available processors unless OMP_NUM_THREADS says otherwise. */
    public static ThreadChoice defaultChoice() {
        return choose(Runtime.getRuntime().availableProcessors(), null, System.getenv("OMP_NUM_THREADS"));
    }
}
