package org.dreamteacher.torch;

import org.dreamteacher.kernels.ThreadChoice;

/**
 * libtorch's CPU threads: {@link TorchRuntime#init()} applies {@link ThreadChoice#defaultChoice()} (every available
 * processor unless {@code OMP_NUM_THREADS} says otherwise), and the command line applies {@code --threads} on top.
 * Data-parallel workers get {@code OMP_NUM_THREADS} from their launcher, so they divide the cores between them.
 */
public final class Threads {
    private static volatile ThreadChoice current;

    private Threads() {}

    /** The choice last applied to libtorch (the default until {@code --threads} replaces it). */
    public static ThreadChoice current() {
        ThreadChoice c = current;
        return c != null ? c : ThreadChoice.defaultChoice();
    }

    /** Sets libtorch's intra-op threads to the choice and remembers it. Loads libtorch if needed. */
    public static void applyToTorch(ThreadChoice choice) {
        TorchRuntime.init();
        setTorch(choice);
    }

    static void setTorch(ThreadChoice choice) {
        org.bytedeco.pytorch.global.torch.set_num_threads(choice.threads());
        current = choice;
    }
}
