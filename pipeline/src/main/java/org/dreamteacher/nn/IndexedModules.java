package org.dreamteacher.nn;

import org.bytedeco.pytorch.Module;

/** A container whose children are named "0", "1", ... like PyTorch's ModuleList and Sequential. */
final class IndexedModules extends Module {
    private int count;

    <M extends Module> M add(M m) {
        return register_module(Integer.toString(count++), m);
    }
}
