package org.dreamteacher.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/** The exponential moving average of a model's weights, which teachers keep as the model they save. */
public final class Ema {
    private Ema() {}

    /**
     * ema = decay·ema + (1 − decay)·model for every parameter (decay 0 copies); with {@code buffers}, the buffers
     * too (those that are not floating point are copied). Leave buffers out when they are constants, such as a
     * noise schedule's tables: averaging a constant with itself may round it away from itself. Both modules must
     * share one configuration.
     */
    public static void update(Module model, Module ema, double decay, boolean buffers) {
        if (!(decay >= 0 && decay < 1)) throw new IllegalArgumentException("EMA decay must be in [0, 1), got " + decay);
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            average(model.parameters(), ema.parameters(), decay);
            if (buffers) average(model.buffers(), ema.buffers(), decay);
        }
    }

    private static void average(TensorVector src, TensorVector dst, double decay) {
        if (src.size() != dst.size()) throw new IllegalArgumentException("the EMA copy does not match the model");
        for (long i = 0; i < src.size(); i++) {
            Tensor t = dst.get(i);
            if (decay == 0 || !t.is_floating_point()) t.copy_(src.get(i));
            else t.mul_(new Scalar(decay)).add_(src.get(i), new Scalar(1 - decay));
        }
    }
}
