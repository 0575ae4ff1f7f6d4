package org.dreamteacher.nn;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * One stage of a backbone: its blocks applied in order, registered as "0", "1", ... like torchvision's
 * Sequential, so that the parameter names, and with them the checkpoints, match torchvision's layout.
 */
final class Stage extends Module {
    /** A block of a stage. */
    interface Block {
        Tensor forward(Tensor x);
    }

    private final List<Block> blocks = new ArrayList<>();

    <B extends Module & Block> void add(B block) {
        blocks.add(register_module(Integer.toString(blocks.size()), block));
    }

    Tensor forward(Tensor x) {
        for (Block b : blocks) x = b.forward(x);
        return x;
    }
}
