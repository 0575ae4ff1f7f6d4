package org.dreamteacher.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.function.Executable;

/** Helpers of the model tests. */
final class NnTests {
    static {
        TorchRuntime.init();
        torch.set_num_threads(2);
    }

    private NnTests() {}

    static void init() {
        // class initialisation does the work
    }

    static Tensor randn(long seed, long... shape) {
        torch.manual_seed(seed);
        return torch.randn(shape);
    }

    static long parameterCount(Module m) {
        long n = 0;
        StringTensorDict p = m.named_parameters(true);
        for (long i = 0; i < p.size(); i++) n += p.get(i).value().numel();
        return n;
    }

    static long[] shape(Tensor t) {
        return t.sizes().vec().get();
    }

    static void assertShape(Tensor t, long... expected) {
        assertArrayEquals(expected, shape(t), () -> "shape " + java.util.Arrays.toString(shape(t)));
    }

    /** A scalar that depends on every element of every output through fixed random weights. */
    static Tensor probeLoss(List<Tensor> outputs) {
        Tensor loss = null;
        long seed = 1000;
        for (Tensor o : outputs) {
            Tensor term = o.mul(randn(seed++, shape(o))).mean();
            loss = loss == null ? term : loss.add(term);
        }
        return loss;
    }

    /** After one backward of {@code loss}, every parameter of {@code m} has a defined, non-zero gradient. */
    static void assertEveryParameterGetsGradient(Module m, Tensor loss) {
        loss.backward();
        List<String> missing = new ArrayList<>();
        StringTensorDict p = m.named_parameters(true);
        for (long i = 0; i < p.size(); i++) {
            Tensor g = p.get(i).value().grad();
            if (!g.defined() || g.abs().sum().item_double() == 0.0) missing.add(p.get(i).key().getString());
        }
        assertTrue(p.size() > 0);
        assertTrue(missing.isEmpty(), () -> "no gradient for " + missing);
    }

    static void assertRejected(String fragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), () -> "message '" + e.getMessage() + "' should contain '" + fragment + "'");
    }

    static List<String> parameterNames(Module m) {
        List<String> names = new ArrayList<>();
        StringTensorDict p = m.named_parameters(true);
        for (long i = 0; i < p.size(); i++) names.add(p.get(i).key().getString());
        return names;
    }

    static void assertSameTensors(List<Tensor> a, List<Tensor> b) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) assertTrue(torch.equal(a.get(i), b.get(i)), "output " + i + " differs");
    }
}
