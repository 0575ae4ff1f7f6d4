package org.dreamteacher.nn;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.SafeTensors;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.torch.TensorFileException;

/**
 * Starts a model that was built from a config with weights saved elsewhere: a safetensors state dict (written
 * by {@code dreamteacher export}, or from PyTorch, e.g. torchvision's ResNet-50; docs/models.md shows how) or a
 * model checkpoint ({@code .dtt}) of this library.
 * The tensor names are the model's state-dict names (torchvision's for ResNet, the official ones for ConvNeXt).
 *
 * <p>Loading is strict: a file with missing, unexpected, mis-shaped or mis-typed tensors is refused with one
 * error that lists all of them, before its tensors are read. Three differences are accepted, because they do
 * not touch the features a backbone is initialised for, and each is reported: a classification head that is
 * absent or does not fit the backbone is skipped (the backbone keeps its own head, or none); a missing
 * BatchNorm {@code num_batches_tracked} keeps its built value, as PyTorch accepts for older state dicts; and a
 * floating-point tensor of another floating-point dtype (F16, BF16, F64) is converted to the model's dtype.
 */
public final class InitWeights {
    private static final System.Logger LOG = System.getLogger(InitWeights.class.getName());

    /**
     * What was loaded.
     *
     * @param loaded      tensors copied into the model
     * @param skippedHead the file's head tensors that were left out (empty when the head fitted or neither had one)
     * @param headNote    why the head was skipped or left as built, or null
     * @param keptBuffers model buffers the file lacked and that keep their built values ({@code num_batches_tracked})
     * @param converted   tensors converted from another floating-point dtype ("name F16 -> F32")
     */
    public record Report(Path file, int loaded, List<String> skippedHead, String headNote, List<String> keptBuffers, List<String> converted) {
        /** One line for a user. */
        public String describe() {
            StringBuilder sb = new StringBuilder("loaded ").append(loaded).append(" tensors from ").append(file);
            if (headNote != null) sb.append("; ").append(headNote);
            if (!keptBuffers.isEmpty()) sb.append("; ").append(keptBuffers.size()).append(" num_batches_tracked not in the file kept their built value");
            if (!converted.isEmpty()) sb.append("; ").append(converted.size()).append(" converted to the model's dtype, e.g. ").append(converted.get(0));
            return sb.toString();
        }
    }

    private InitWeights() {}

    /**
     * Loads the weights of {@code file} (safetensors, or a {@code .dtt} model checkpoint) into {@code model}, as
     * described in the class comment. On failure the model's weights are unchanged.
     */
    public static Report load(Path file, ConfiguredModule model) throws IOException {
        if (!Files.isRegularFile(file)) throw new TensorFileException(file, "no such file");
        Report report = TensorFile.looksLikeTensorFile(file) ? loadCheckpoint(file, model) : loadSafeTensors(file, model);
        if (report.headNote() != null) LOG.log(System.Logger.Level.INFO, file + ": " + report.headNote());
        if (!report.keptBuffers().isEmpty())
            LOG.log(System.Logger.Level.INFO, file + ": " + report.keptBuffers().size() + " num_batches_tracked buffers are not in the file and keep"
                    + " their built value, e.g. " + report.keptBuffers().get(0));
        if (!report.converted().isEmpty())
            LOG.log(System.Logger.Level.INFO, file + ": " + report.converted().size() + " tensors converted to the model's dtype, e.g. "
                    + report.converted().get(0));
        return report;
    }

    private static Report loadSafeTensors(Path file, ConfiguredModule model) throws IOException {
        StateDictMatch.Plan[] plan = new StateDictMatch.Plan[1];
        SafeTensors.Contents contents = SafeTensors.read(file, (meta, entries) -> {
            List<StateDictMatch.Item> items = new ArrayList<>();
            for (SafeTensors.Entry e : entries) items.add(StateDictMatch.Item.of(e));
            plan[0] = StateDictMatch.plan(file, model, items, true);
        });
        try {
            return copy(file, model, contents.tensors(), plan[0]);
        } finally {
            for (Tensor t : contents.tensors().values()) t.close();
        }
    }

    private static Report loadCheckpoint(Path file, ConfiguredModule model) throws IOException {
        try (ConfiguredModule source = Checkpoints.load(file); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = Checkpoints.state(source);
            List<StateDictMatch.Item> items = new ArrayList<>();
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) items.add(StateDictMatch.Item.of(e.getKey(), e.getValue()));
            return copy(file, model, tensors, StateDictMatch.plan(file, model, items, true));
        }
    }

    private static Report copy(Path file, ConfiguredModule model, Map<String, Tensor> tensors, StateDictMatch.Plan plan) {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Map<String, Tensor> state = Checkpoints.state(model);
            for (String name : plan.load()) state.get(name).copy_(tensors.get(name));
        }
        return new Report(file, plan.load().size(), plan.skippedHead(), plan.headNote(), plan.keptBuffers(), plan.converted());
    }
}
