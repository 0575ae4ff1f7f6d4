package org.dreamteacher.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.Splits;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;

/** Data, models and thread settings shared by the evaluation tests. */
final class EvalTests {
    private static FashionMnist data;
    private static int savedThreads = -1;

    private EvalTests() {}

    /**
     * One libtorch thread while these tests run (restored by {@link #restore()}): on a machine shared with other
     * jobs, OpenMP's two spinning threads made a fine-tune step 10-15x slower than one thread did.
     */
    static void setUp() {
        TorchRuntime.init();
        Progress.setEnabled(false);
        if (savedThreads < 0) savedThreads = torch.get_num_threads();
        torch.set_num_threads(1);
    }

    static void restore() {
        if (savedThreads > 0) torch.set_num_threads(savedThreads);
        savedThreads = -1;
    }

    static synchronized FashionMnist fashion() {
        if (data == null) {
            try {
                data = FashionMnist.embeddedSubset();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return data;
    }

    /** A balanced subset of {@code perClass} images per class of the embedded test split. */
    static ImageDataset testSubset(int perClass) {
        ImageDataset test = fashion().test();
        return test.subset(Splits.balancedSubsetPerClass(test.labels(), test.numClasses(), perClass, 7));
    }

    /**
     * ResNet-18 for 28 px grey images at width 16. Width 8 is not used: this libtorch build's oneDNN 3x3
     * stride-1 convolutions gave wrong input gradients (and sometimes NaN) for 4, 8, 12 or 24 output channels,
     * while 16, 32, 48, 64 and 128 matched a float64 reference.
     */
    static ResNetConfig smallResNet() {
        return ResNetConfig.small(18, 16, 1, 0);
    }

    /** The same with the standard 7x7/2 stem and max-pool: 16x cheaper, for plumbing tests and 64 px scenes. */
    static ResNetConfig cheapResNet() {
        return new ResNetConfig(18, 16, 1, 0, false);
    }

    /** Copies of every parameter and buffer, by name. */
    static Map<String, Tensor> snapshot(ConfiguredModule m) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        StringTensorDict p = m.named_parameters(true);
        for (long i = 0; i < p.size(); i++) out.put(p.get(i).key().getString(), p.get(i).value().detach().clone());
        StringTensorDict b = m.named_buffers(true);
        for (long i = 0; i < b.size(); i++) out.put(b.get(i).key().getString(), b.get(i).value().detach().clone());
        return out;
    }

    /** Names whose tensors differ (or are missing) between two snapshots. */
    static java.util.List<String> changed(Map<String, Tensor> before, Map<String, Tensor> after) {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (Map.Entry<String, Tensor> e : before.entrySet()) {
            Tensor a = after.get(e.getKey());
            try (PointerScope scope = new PointerScope()) {
                if (a == null || !torch.equal(e.getValue(), a)) out.add(e.getKey());
            }
        }
        if (!after.keySet().equals(before.keySet())) out.add("(names differ: " + after.keySet() + ")");
        return out;
    }
}
