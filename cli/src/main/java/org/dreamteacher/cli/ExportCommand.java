package org.dreamteacher.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.torch.TensorFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Converts a model file between this library's checkpoints and safetensors, the format PyTorch tools read. */
@Command(name = "export", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Convert a model checkpoint (.dtt, any kind: backbone, regressor, teacher, head ...) to safetensors, or back.",
            "The tensors keep the model's state-dict names (torchvision's for ResNet, the official ones for ConvNeXt), BatchNorm",
            "statistics included; the metadata holds the kind and config, from which --format dtt rebuilds the checkpoint.",
            "Training state (optimiser, step) is not exported."})
final class ExportCommand extends CliCommand {
    @Option(names = "--model", paramLabel = "FILE", required = true,
            description = "The model to convert: a checkpoint (.dtt), or with --format dtt a .safetensors file written by export.")
    Path model;

    @Option(names = "--out", paramLabel = "FILE", required = true, description = "The file to write (replaced atomically if it exists).")
    Path out;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "safetensors",
            description = "What to write: safetensors or dtt (default: ${DEFAULT-VALUE}).")
    String format;

    @Override
    boolean checksBackend() {
        return false;
    }

    @Override
    int execute() throws Exception {
        requireFile(model, "--model");
        String f = format.toLowerCase(Locale.ROOT).replace(".", "");
        if (!f.equals("safetensors") && !f.equals("dtt")) throw usage("--format must be safetensors or dtt, got '" + format + "'");
        if (Files.exists(out) && Files.isSameFile(model, out)) throw usage("--out must differ from --model: " + out);
        String outName = out.getFileName().toString().toLowerCase(Locale.ROOT);
        String other = f.equals("safetensors") ? "dtt" : "safetensors";
        if (outName.endsWith("." + other))
            throw usage("--out " + out + " is named as a ." + other + " file but --format is " + f + ": give --format " + other + " or another name");
        boolean checkpoint = TensorFile.looksLikeTensorFile(model);
        if (f.equals("safetensors") && !checkpoint)
            throw usage("--model " + model + " is not a checkpoint (.dtt); to turn a safetensors file into one, give --format dtt");
        if (f.equals("dtt") && checkpoint) throw usage("--model " + model + " already is a checkpoint (.dtt); --format dtt reads a safetensors file");
        Checkpoints.Conversion c = f.equals("safetensors") ? Checkpoints.exportSafeTensors(model, out) : Checkpoints.importSafeTensors(model, out);
        out().printf(Locale.ROOT, "export: %s model, %d tensors: %s -> %s (%s)%n", c.kind(), c.tensors(), model, out, f);
        return 0;
    }
}
