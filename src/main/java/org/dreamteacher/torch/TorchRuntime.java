package org.dreamteacher.torch;

import java.io.IOException;
import java.io.UncheckedIOException;
import org.bytedeco.javacpp.Loader;

/**
 * Loads libtorch safely. On a machine whose JavaCPP cache ({@code ~/.javacpp/cache}) is empty, the first
 * JVM that loads libtorch while the cache is being filled crashes inside {@code System.load}; extracting the
 * native resources of openblas and pytorch before the first load avoids that. Call {@link #init()} before
 * touching any {@code org.bytedeco.pytorch} class; every class of this library that uses libtorch does.
 * It also sets libtorch's threads to {@link Threads#defaultChoice()} (every available processor unless
 * OMP_NUM_THREADS says otherwise) and makes sure float32 convolutions compute correct values here
 * ({@link ConvolutionGuard}).
 */
public final class TorchRuntime {
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
            Threads.setTorch(Threads.defaultChoice());
            ConvolutionGuard.apply();
            initialised = true;
        }
    }
}
