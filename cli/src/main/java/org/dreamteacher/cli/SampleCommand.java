package org.dreamteacher.cli;

import java.nio.file.Path;
import java.util.Locale;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Teachers;
import org.dreamteacher.viz.SampleGrids;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Draws images from a diffusion teacher. */
@Command(name = "sample", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = "Draw images from a diffusion teacher into a PNG grid.")
final class SampleCommand extends CliCommand {
    @Option(names = "--teacher", paramLabel = "FILE", description = "Teacher checkpoint (teacher.dtt of train-teacher; default: the shipped teacher).")
    Path teacher;

    @Option(names = "--n", paramLabel = "N", defaultValue = "16", description = "Number of images (default: ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--sampler", paramLabel = "NAME", defaultValue = "ddim", description = "ddim or ddpm (all T steps) (default: ${DEFAULT-VALUE}).")
    String sampler;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "50", description = "DDIM steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--eta", paramLabel = "ETA", defaultValue = "0", description = "DDIM eta: 0 deterministic, 1 DDPM-like (default: ${DEFAULT-VALUE}).")
    double eta;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", paramLabel = "PNG", defaultValue = "samples.png", description = "Output picture (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    int execute() throws Exception {
        requirePositive(n, "--n");
        if (n > 4096) throw usage("--n must be <= 4096, got " + n);
        String s = sampler.toLowerCase(Locale.ROOT);
        if (!s.equals("ddim") && !s.equals("ddpm")) throw usage("--sampler must be ddim or ddpm, got '" + sampler + "'");
        requirePositive(steps, "--steps");
        requireNonNegative(eta, "--eta");
        if (teacher != null) requireFile(teacher, "--teacher");
        try (GaussianDiffusion model = Teachers.load(teacher)) {
            if (s.equals("ddim") && steps > model.timesteps())
                throw usage("--steps must be <= the teacher's " + model.timesteps() + " timesteps, got " + steps);
            long t0 = System.nanoTime();
            SampleGrids.diffusion(model, n, s, steps, eta, seed, out);
            out().printf(Locale.ROOT, "%d samples (%s, %d steps) in %.1f s: %s%n", n, s, s.equals("ddim") ? steps : model.timesteps(),
                    (System.nanoTime() - t0) / 1e9, out);
        }
        return 0;
    }
}
