package org.dreamteacher.cli;

import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Which teacher a command encodes with: a diffusion checkpoint (default: the shipped one) or a TorchScript module. */
final class TeacherOptions {
    @Option(names = "--teacher", paramLabel = "FILE", description = "Teacher checkpoint (teacher.dtt of train-teacher; default: the shipped teacher).")
    Path teacher;

    @Option(names = "--torchscript", paramLabel = "FILE", description = "A TorchScript teacher instead: forward(x, t) returns feature maps.")
    Path torchscript;

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
        if (torchscript != null) {
            command.requireFile(torchscript, "--torchscript");
            command.requirePositive(inChannels, "--in-channels");
            command.requirePositive(timesteps, "--timesteps");
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
    TeacherChoice open() throws IOException {
        return torchscript != null ? TeacherChoice.torchScript(torchscript, inChannels, schedule, timesteps) : TeacherChoice.diffusion(teacher);
    }
}
