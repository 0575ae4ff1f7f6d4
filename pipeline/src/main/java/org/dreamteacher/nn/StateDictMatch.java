package org.dreamteacher.nn;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.SafeTensors;
import org.dreamteacher.torch.TensorFileException;

/**
 * Matches the tensors of a file (names, shapes and dtypes, before any is read) against a model's state dict
 * and decides which ones to copy. Strict: every problem is collected and reported at once, in one line that
 * names the file, so that a user sees every missing, unexpected and mis-shaped tensor of a wrong file.
 */
final class StateDictMatch {
    /** A tensor of the file as its header describes it. */
    record Item(String name, SafeTensors.DType dtype, long[] shape) {
        static Item of(SafeTensors.Entry e) {
            return new Item(e.name(), e.dtype(), e.shape());
        }

        static Item of(String name, Tensor t) {
            return new Item(name, SafeTensors.DType.of(t), t.sizes().vec().get());
        }
    }

    /**
     * What to copy: file name to the same state name (the names are the same; the set says which ones), the
     * file's head tensors left out and why, state buffers left as built, and tensors whose floating-point dtype
     * is converted.
     */
    record Plan(Set<String> load, List<String> skippedHead, String headNote, List<String> keptBuffers, List<String> converted) {}

    private StateDictMatch() {}

    /**
     * The plan for loading {@code items} into {@code model}.
     *
     * @param forInit weights from elsewhere that initialise a backbone: the classification head may be absent
     *     or of another size (it is then skipped), a missing {@code num_batches_tracked} keeps its built value
     *     (PyTorch accepts state dicts saved before it existed), and floating-point tensors may be of another
     *     floating-point dtype. Otherwise everything must match exactly.
     */
    static Plan plan(Path file, ConfiguredModule model, List<Item> items, boolean forInit) throws TensorFileException {
        Map<String, Item> expected = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            for (Map.Entry<String, Tensor> e : Checkpoints.state(model).entrySet()) expected.put(e.getKey(), Item.of(e.getKey(), e.getValue()));
        }
        List<String> prefixes = forInit && model instanceof Backbone b ? b.headPrefixes() : List.of();
        List<Item> fileHead = new ArrayList<>();
        for (Item i : items) if (isHead(i.name(), prefixes)) fileHead.add(i);
        List<Item> modelHead = new ArrayList<>();
        for (Item i : expected.values()) if (isHead(i.name(), prefixes)) modelHead.add(i);
        String headNote = null;
        if (!(fileHead.isEmpty() && modelHead.isEmpty())) {
            headNote = headMismatch(fileHead, modelHead, expected);
        }
        Set<String> skip = new LinkedHashSet<>();
        if (headNote != null) {
            for (Item i : fileHead) skip.add(i.name());
            for (Item i : modelHead) skip.add(i.name());
        }

        List<String> unexpected = new ArrayList<>(), misShaped = new ArrayList<>(), misTyped = new ArrayList<>(), missing = new ArrayList<>();
        List<String> converted = new ArrayList<>(), kept = new ArrayList<>();
        Set<String> load = new LinkedHashSet<>();
        for (Item i : items) {
            if (skip.contains(i.name())) continue;
            Item want = expected.get(i.name());
            if (want == null) {
                unexpected.add(i.name() + " " + Arrays.toString(i.shape()));
            } else if (!Arrays.equals(want.shape(), i.shape())) {
                misShaped.add(i.name() + ": expected " + Arrays.toString(want.shape()) + ", file " + Arrays.toString(i.shape()));
            } else if (want.dtype() != i.dtype()) {
                if (forInit && want.dtype().isFloatingPoint() && i.dtype().isFloatingPoint()) {
                    converted.add(i.name() + " " + i.dtype() + " -> " + want.dtype());
                    load.add(i.name());
                } else {
                    misTyped.add(i.name() + ": expected " + want.dtype() + ", file " + i.dtype());
                }
            } else {
                load.add(i.name());
            }
        }
        Set<String> present = new LinkedHashSet<>();
        for (Item i : items) present.add(i.name());
        for (Item want : expected.values()) {
            if (present.contains(want.name()) || skip.contains(want.name())) continue;
            if (forInit && want.name().endsWith("num_batches_tracked")) kept.add(want.name());
            else missing.add(want.name() + " " + Arrays.toString(want.shape()));
        }
        if (!(missing.isEmpty() && unexpected.isEmpty() && misShaped.isEmpty() && misTyped.isEmpty())) {
            List<String> sections = new ArrayList<>();
            section(sections, missing, "missing");
            section(sections, unexpected, "unexpected");
            section(sections, misShaped, "mis-shaped");
            section(sections, misTyped, "of another dtype");
            throw new TensorFileException(file, "does not fit the " + model.config().kind() + " it should load into: " + String.join("; ", sections));
        }
        List<String> skipped = new ArrayList<>();
        for (Item i : fileHead) if (skip.contains(i.name())) skipped.add(i.name());
        return new Plan(load, skipped, headNote, kept, converted);
    }

    private static boolean isHead(String name, List<String> prefixes) {
        for (String p : prefixes) if (name.startsWith(p)) return true;
        return false;
    }

    /** Why the file's head does not fit the model's, or null when it does (same names, shapes and dtypes). */
    private static String headMismatch(List<Item> fileHead, List<Item> modelHead, Map<String, Item> expected) {
        if (modelHead.isEmpty())
            return "this backbone is built without a classification head; the file's " + describe(fileHead) + " is skipped";
        if (fileHead.isEmpty()) return "the file has no classification head; the backbone's " + describe(modelHead) + " keeps its initial weights";
        boolean fits = fileHead.size() == modelHead.size();
        for (Item i : fileHead) {
            Item want = expected.get(i.name());
            if (want == null || !Arrays.equals(want.shape(), i.shape()) || want.dtype() != i.dtype()) fits = false;
        }
        if (fits) return null;
        return "the file's classification head " + describe(fileHead) + " does not fit this backbone's " + describe(modelHead)
                + "; it is skipped and the backbone's head keeps its initial weights";
    }

    private static String describe(List<Item> items) {
        List<String> parts = new ArrayList<>();
        for (Item i : items) parts.add(i.name() + " " + Arrays.toString(i.shape()));
        return "(" + String.join(", ", parts) + ")";
    }

    private static void section(List<String> sections, List<String> list, String what) {
        if (!list.isEmpty()) sections.add(list.size() + " " + what + " [" + String.join(", ", list) + "]");
    }
}
