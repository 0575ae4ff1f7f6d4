package org.dreamteacher.cli;

import org.dreamteacher.eval.Mode;
import picocli.CommandLine.Command;

/** Fine-tuning: backbone and a new linear head trained together. */
@Command(name = "finetune", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Fine-tune a backbone on Fashion-MNIST with few labels (every weight trained, with a new linear head).",
            "Prints the test accuracy; writes classification.json, .md and .png into --out."})
final class FinetuneCommand extends ClassifyCommand {
    @Override
    Mode mode() {
        return Mode.FINE_TUNE;
    }
}
