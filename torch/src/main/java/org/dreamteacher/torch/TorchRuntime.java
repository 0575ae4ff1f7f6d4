package org.dreamteacher.torch;

import java.io.IOException;
import java.io.UncheckedIOException;
import org.bytedeco.javacpp.Loader;
import org.dreamteacher.kernels.ThreadChoice;

/**
 * Loads libtorch safely. On a machine whose JavaCPP cache ({@code ~/.javacpp/cache}) is empty, the first
 * JVM that loads libtorch while the cache is being filled crashes inside {@code System.load}; extracting the
 * native resources of openblas and pytorch before the first load avoids that. Call {@link #init()} before
 * touching any {@code org.bytedeco.pytorch} class; every class of this library that uses libtorch does.
 *
 * <p>It also changes settings of libtorch that hold for the whole process, and logs which (at DEBUG, through
 * {@link System.Logger}): libtorch's intra-op threads become {@link ThreadChoice#defaultChoice()} (every available
 * processor unless {@code OMP_NUM_THREADS} says otherwise); OpenBLAS runs on one thread unless the environment
 * says otherwise ({@link Threads#blas()}); NNPACK is switched off; on AMD family-26 processors
 * oneDNN is limited to AVX512_CORE with channel counts padded to whole blocks, and strided 1x1 convolutions run
 * on subsampled inputs; and every convolution shape a
 * model builds is checked against float64 ({@link ConvolutionGuard}). An application that embeds libtorch for
 * other work and wants none of that starts the JVM with {@code -D}{@value #SETTINGS_PROPERTY}{@code =false}: then
 * {@code init()} only extracts and loads libtorch, and convolutions are neither limited nor checked.
 */
public final class TorchRuntime {
    /** System property; {@code false} leaves libtorch's process-wide settings as they are. */
    public static final String SETTINGS_PROPERTY = "dreamteacher.torch.settings";
    private static final System.Logger LOG = System.getLogger(TorchRuntime.class.getName());
    private static volatile boolean initialised;

    private TorchRuntime() {}

    /** Extracts libtorch's native libraries into the JavaCPP cache (once) and loads them. Idempotent. */
    public static void init() {
        if (initialised) return;
        synchronized (TorchRuntime.class) {
            if (initialised) return;
            String platform = Loader.getPlatform();
            for (String preset : new String[] {"openblas", "pytorch"}) {
                String resources = "/org/bytedeco/" + preset + "/" + platform + "/";
                try {
                    Loader.cacheResources(resources);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot extract " + resources + " into the JavaCPP cache "
                            + "(set -Dorg.bytedeco.javacpp.cachedir to a writable folder)", e);
                }
            }
            Loader.load(org.bytedeco.pytorch.global.torch.class);
            if (Boolean.parseBoolean(System.getProperty(SETTINGS_PROPERTY, "true").trim())) {
                ThreadChoice threads = ThreadChoice.defaultChoice();
                Threads.setTorch(threads);
                Threads.setBlas();
                ConvolutionGuard.apply();
                LOG.log(System.Logger.Level.DEBUG, () -> "libtorch process settings: " + threads.threads() + " threads ("
                        + threads.reason() + "); " + Threads.blas() + "; " + ConvolutionGuard.processSettings() + " (-D" + SETTINGS_PROPERTY
                        + "=false leaves them alone)");
            } else {
                ConvolutionGuard.leaveAlone();
                LOG.log(System.Logger.Level.DEBUG, () -> "libtorch process settings left as they are (" + SETTINGS_PROPERTY
                        + "=false)");
            }
            initialised = true;
        }
    }
}
