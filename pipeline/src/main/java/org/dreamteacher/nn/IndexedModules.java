package org.dreamteacher.nn;

import org.bytedeco.pytorch.Module;

/**
 * A container whose children are named "0", "1", ... like PyTorch's ModuleList and Sequential (or by given
 * indices, with gaps, like a ModuleDict keyed by level).
 */
final class IndexedModules extends Module {
    private int count;

    <M extends Module> M add(M m) {
        return register_module(Integer.toString(count++), m);
    }

    /** Adds a child named {@code index}; later {@link #add(Module)} calls continue after it. */
    <M extends Module> M add(int index, M m) {
        count = index + 1;
        return register_module(Integer.toString(index), m);
    }
}
