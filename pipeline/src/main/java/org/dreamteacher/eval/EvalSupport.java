package org.dreamteacher.eval;

import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.ConfiguredModule;

/** Helpers shared by the trainers of this package. */
final class EvalSupport {
    private EvalSupport() {}

    static Backbone backbone(ConfiguredModule m) {
        if (m == null) throw new IllegalArgumentException("backbone is null");
        if (!(m instanceof Backbone b)) throw new IllegalArgumentException("a " + m.config().kind() + " model is not a backbone");
        return b;
    }

    static TensorVector vector(List<Tensor> tensors) {
        TensorVector v = new TensorVector();
        for (Tensor t : tensors) v.push_back(t);
        return v;
    }

    /** Mean of the last {@code k} finite entries of a ring of recent losses. */
    static double tailMean(double[] ring, long filled) {
        int n = (int) Math.min(filled, ring.length);
        if (n == 0) return Double.NaN;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += ring[i];
        return sum / n;
    }

    static void checkSettings(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }
}
