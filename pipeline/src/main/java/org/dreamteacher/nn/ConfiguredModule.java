package org.dreamteacher.nn;

import org.bytedeco.pytorch.Module;

/**
 * A libtorch module that knows the config it was built from, so that a checkpoint can rebuild it.
 * Native memory is released by {@link #close()} (a {@code Module} is a JavaCPP pointer); build models outside
 * any {@code PointerScope} that should not own them.
 */
public abstract class ConfiguredModule extends Module {
    protected ConfiguredModule() {
        super();
    }

    /** The config this module was built from. */
    public abstract ModelConfig config();
}
