package org.dreamteacher.cli;

import java.nio.file.Path;
import org.dreamteacher.eval.Mode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Fine-tuning: backbone and a new linear head trained together. */
@Command(name = "finetune", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Fine-tune a backbone on Fashion-MNIST with few labels (every weight trained, with a new linear head).",
            "Prints the test accuracy; writes classification.json, .md and .png into --out, and the fine-tuned model with --save-model."})
final class FinetuneCommand extends ClassifyCommand {
    @Option(names = "--save-model", paramLabel = "FILE",
            description = "Save the fine-tuned backbone with its head as a checkpoint, e.g. the classifier of gan-quality (one --labels share and one seed).")
    Path saveModel;

    @Override
    Path saveModel() {
        return saveModel;
    }

    @Override
    Mode mode() {
        return Mode.FINE_TUNE;
    }
}
