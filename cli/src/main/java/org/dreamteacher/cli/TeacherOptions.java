package org.dreamteacher.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.dreamteacher.diffusion.LoadedTeacher;
import org.dreamteacher.nn.TeacherInput;
import picocli.CommandLine.Option;

/** Which teacher a command encodes with: a diffusion checkpoint (default: the shipped one) or a TorchScript module. */
final class TeacherOptions {
    @Option(names = "--teacher", paramLabel = "FILE", description = "Teacher checkpoint (teacher.dtt of train-teacher; default: the shipped teacher).")
    Path teacher;

    @Option(names = "--torchscript", paramLabel = "FILE", description = "A TorchScript teacher instead: its forward returns feature maps (see --torchscript-input). The file is code: load only files you trust.")
    Path torchscript;

    @Option(names = "--torchscript-input", paramLabel = "KIND", defaultValue = "noised",
            description = {"With --torchscript: what its forward receives (default: ${DEFAULT-VALUE}).",
                "noised: forward(x, t), the images noised in pixel space with --schedule (a pixel-space diffusion model).",
                "clean: forward(x0, t, noise), the clean images, t and noise of the shape its noise_shape(x0) method gives;",
                "it encodes and noises by itself (a latent diffusion model)."})
    String torchscriptInput;

    @Option(names = "--in-channels", paramLabel = "C", defaultValue = "1", description = "With --torchscript: image channels it expects (default: ${DEFAULT-VALUE}).")
    int inChannels;

    @Option(names = "--schedule", paramLabel = "NAME", defaultValue = "linear", description = "With --torchscript: its noise schedule, linear or cosine (default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--timesteps", paramLabel = "T", defaultValue = "1000", description = "With --torchscript: its diffusion steps (default: ${DEFAULT-VALUE}).")
    int timesteps;

    /** Checks the options through {@code command}'s usage errors. */
    void check(CliCommand command) {
        if (teacher != null && torchscript != null) throw command.usage("give either --teacher or --torchscript, not both");
        if (teacher != null) command.requireFile(teacher, "--teacher");
        TeacherInput input = input(command);
        boolean matched = command.spec.commandLine().getParseResult().hasMatchedOption("--torchscript-input");
        if (torchscript == null && matched) throw command.usage("--torchscript-input applies to a --torchscript teacher only");
        if (torchscript != null) {
            command.requireFile(torchscript, "--torchscript");
            command.requirePositive(inChannels, "--in-channels");
            command.requirePositive(timesteps, "--timesteps");
            // A clean-input module noises with its own schedule; accepting --schedule would suggest that it mattered.
            if (input == TeacherInput.CLEAN && command.spec.commandLine().getParseResult().hasMatchedOption("--schedule"))
                throw command.usage("--schedule does not apply to --torchscript-input clean: the module noises with its own schedule"
                        + " (--timesteps still bounds --timestep)");
        }
    }

    /** The --torchscript-input contract, checked through {@code command}'s usage errors. */
    TeacherInput input(CliCommand command) {
        try {
            return TeacherInput.parse(torchscriptInput);
        } catch (IllegalArgumentException e) {
            throw command.usage("--torchscript-input must be noised or clean, got '" + torchscriptInput + "'");
        }
    }

    /** Whether --teacher or --torchscript was given. */
    boolean given() {
        return teacher != null || torchscript != null;
    }

    boolean isTorchScript() {
        return torchscript != null;
    }

    /** Loads the chosen teacher. */
    LoadedTeacher open() throws IOException {
        return torchscript != null ? LoadedTeacher.torchScript(torchscript, inChannels, schedule, timesteps, TeacherInput.parse(torchscriptInput))
                : LoadedTeacher.diffusion(teacher);
    }
}
