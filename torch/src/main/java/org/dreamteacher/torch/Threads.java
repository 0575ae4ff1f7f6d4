package org.dreamteacher.torch;

import org.dreamteacher.kernels.ThreadChoice;

/**
 * libtorch's CPU threads: {@link TorchRuntime#init()} applies {@link ThreadChoice#defaultChoice()} (every available
 * processor unless {@code OMP_NUM_THREADS} says otherwise), and the command line applies {@code --threads} on top.
 * Data-parallel workers get {@code OMP_NUM_THREADS} from their launcher, so they divide the cores between them.
 */
public final class Threads {
    private static volatile ThreadChoice current;
    private static volatile String blas = "OpenBLAS threads as OpenBLAS chose them";

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

    /** What was done with OpenBLAS's threads, for {@code dreamteacher info}. */
    public static String blas() {
        return blas;
    }

    /**
     * OpenBLAS (libtorch's BLAS in this preset: linear layers, matrix products) runs its own pthread workers, which
     * after each call spin for about 2^28 cycles before they sleep. A model that calls BLAS every few milliseconds
     * (the U-Net's time embedding and attention) keeps one spinning all the time, taking a core from libtorch's
     * OpenMP threads: a training step of the benchmark U-Net took about twice as long. The spin time can only be
     * set before OpenBLAS loads ({@code OPENBLAS_THREAD_TIMEOUT}, which the {@code dreamteacher} launcher sets), so
     * when the environment says nothing about OpenBLAS's threads they are set to 1 here; large matrix products (a
     * ConvNeXt's pointwise layers) then run on one core.
     */
    static void setBlas() {
        for (String env : new String[] {"OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) {
                blas = "OpenBLAS threads left to OpenBLAS (" + env + "=" + v + ")";
                return;
            }
        }
        org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(1);
        blas = "OpenBLAS on 1 thread (its idle workers spin and take cores from libtorch; OPENBLAS_THREAD_TIMEOUT=4 or "
                + "OPENBLAS_NUM_THREADS to change)";
    }

    static void setTorch(ThreadChoice choice) {
        org.bytedeco.pytorch.global.torch.set_num_threads(choice.threads());
        current = choice;
    }
}
