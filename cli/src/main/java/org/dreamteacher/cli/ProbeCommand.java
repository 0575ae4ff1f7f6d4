package org.dreamteacher.cli;

import org.dreamteacher.eval.Mode;
import picocli.CommandLine.Command;

/** Linear probe: the backbone frozen, a linear classifier on its pooled features. */
@Command(name = "probe", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Linear-probe a backbone on Fashion-MNIST with few labels (the backbone frozen, a linear head trained).",
            "Prints the test accuracy; writes classification.json, .md and .png into --out."})
final class ProbeCommand extends ClassifyCommand {
    @Override
    Mode mode() {
        return Mode.LINEAR_PROBE;
    }
}
