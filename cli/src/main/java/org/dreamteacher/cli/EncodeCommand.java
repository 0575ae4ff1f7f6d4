package org.dreamteacher.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Collectors;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.LoadedTeacher;
import org.dreamteacher.features.FeatureManifest;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.gan.GanConfig;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.gan.GanTap;
import org.dreamteacher.nn.TeacherInput;
import org.dreamteacher.torch.TorchRuntime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;

/**
 * Writes a feature dataset: the teacher's multi-scale features of every image at one timestep, in chunks on disk
 * with a manifest ({@link FeatureStore}); {@code distill --features DIR} trains from it.
 */
@Command(name = "encode", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Encode a feature dataset: the teacher's multi-scale features of every training image noised to --timestep,",
            "written to --out in chunks (float16 or float32) with manifest.json. An interrupted encoding continues with --resume.",
            "With --synthetic N, N images are sampled from the teacher (DDIM) and stored with their features instead; with",
            "--gan FILE --synthetic N, a GAN generator (train-gan) draws N images and the features it computed while drawing them",
            "are stored (no encoding, no timestep).",
            "Train from it with: distill --features DIR."})
final class EncodeCommand extends CliCommand {
    @Mixin
    TeacherOptions teacherOptions;

    @Option(names = "--timestep", paramLabel = "T", defaultValue = "10",
            description = "Noise level of the encoded images (default: ${DEFAULT-VALUE}, the best of those measured on Fashion-MNIST).")
    int timestep;

    @Option(names = "--precision", paramLabel = "TYPE", defaultValue = "float16", description = "float16 or float32 on disk (default: ${DEFAULT-VALUE}).")
    String precision;

    @Option(names = "--chunk-size", paramLabel = "N", defaultValue = "" + FeatureStore.DEFAULT_CHUNK_SIZE,
            description = "Images per chunk file (default: ${DEFAULT-VALUE}).")
    int chunkSize;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "" + FeatureStore.DEFAULT_BATCH_SIZE,
            description = "Images per teacher forward, at most the chunk size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--synthetic", paramLabel = "N", description = "Sample N images from the teacher and record their features instead of encoding --data.")
    Integer synthetic;

    @Option(names = "--gan", paramLabel = "FILE",
            description = "With --synthetic: draw the images from a GAN generator (generator.dtt of train-gan, or 'shipped' for the one in dreamteacher-assets) and store the outputs of its"
                    + " synthesis blocks, recorded while it drew them, instead of sampling and encoding a diffusion teacher.")
    Path gan;

    @Option(names = "--sample-steps", paramLabel = "N", defaultValue = "20", description = "With --synthetic: DDIM steps per sample (default: ${DEFAULT-VALUE}).")
    int sampleSteps;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Seed of the encoding noise and of the samples (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    DataOptions data;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/features", description = "Store folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--resume", description = "Continue the encoding in --out: finished chunks are kept, the rest encoded.")
    boolean resume;

    @Override
    int execute() throws Exception {
        if (timestep < 0) throw usage("--timestep must be >= 0, got " + timestep);
        FeatureStore.Precision p = switch (precision.toLowerCase(Locale.ROOT)) {
            case "float16", "fp16", "half" -> FeatureStore.Precision.FLOAT16;
            case "float32", "fp32", "float" -> FeatureStore.Precision.FLOAT32;
            default -> throw usage("--precision must be float16 or float32, got '" + precision + "'");
        };
        requirePositive(chunkSize, "--chunk-size");
        requirePositive(batch, "--batch");
        teacherOptions.check(this);
        if (gan != null) {
            if (synthetic == null) throw usage("--gan needs --synthetic N: a generator has no encoder for real images");
            if (teacherOptions.given()) throw usage("give either --gan or a teacher (--teacher, --torchscript), not both");
            ParseResult given = spec.commandLine().getParseResult();
            for (String o : new String[] {"--timestep", "--sample-steps"})
                if (given.hasMatchedOption(o)) throw usage(o + " applies to diffusion teachers, not to --gan");
            GanGenerators.check(this, gan, "--gan");
        }
        if (synthetic != null) {
            requirePositive(synthetic, "--synthetic");
            requirePositive(sampleSteps, "--sample-steps");
            if (teacherOptions.isTorchScript()) throw usage("--synthetic samples from a diffusion teacher (--teacher), not from --torchscript");
            if (data.data != null || data.images != null) throw usage("--synthetic makes its own images: drop --data and --images");
        }
        if (!resume && Files.exists(out.resolve(FeatureManifest.FILE)))
            throw new CliException(out + " already holds a feature store: pass --resume to continue it or choose another folder");
        TorchRuntime.init();
        if (gan != null) return encodeGenerated(p);
        try (LoadedTeacher t = teacherOptions.open()) {
            if (timestep >= t.schedule().timesteps())
                throw usage("--timestep must be < the teacher's " + t.schedule().timesteps() + " timesteps, got " + timestep);
            FeatureStore.Options options = new FeatureStore.Options(chunkSize, batch, p, resume, t.source());
            FeatureStore.Summary s;
            if (synthetic != null) {
                GaussianDiffusion d = (GaussianDiffusion) t.owner();
                if (sampleSteps > d.timesteps()) throw usage("--sample-steps must be <= the teacher's " + d.timesteps() + " timesteps, got " + sampleSteps);
                out().printf(Locale.ROOT, "encode: %d images sampled from %s (DDIM, %d steps), t = %d, %s, chunks of %d, seed %d -> %s%s%n",
                        synthetic, t.source(), sampleSteps, timestep, p.dtypeName(), chunkSize, seed, out, resume ? " (resuming)" : "");
                out().flush();
                s = FeatureStore.encodeSynthetic(d, synthetic, sampleSteps, timestep, seed, out, options);
            } else {
                ImageDataset images = data.trainImages();
                out().printf(Locale.ROOT, "encode: %s, %d images, teacher %s%s, t = %d, %s, chunks of %d, seed %d -> %s%s%n", data.describe(),
                        images.size(), t.source(), t.teacher().input() == TeacherInput.CLEAN ? " (clean input)" : "", timestep, p.dtypeName(),
                        chunkSize, seed, out, resume ? " (resuming)" : "");
                out().flush();
                s = FeatureStore.encode(t.teacher(), t.schedule(), images, timestep, seed, out, options);
            }
            report(s);
        }
        return 0;
    }

    /** {@code --gan FILE --synthetic N}: images and features both from the generator, in one pass per batch. */
    private int encodeGenerated(FeatureStore.Precision p) throws Exception {
        try (GanGenerator generator = GanGenerators.open(gan)) {
            GanConfig c = generator.config();
            String taps = c.taps().stream().map(GanTap::name).collect(Collectors.joining(", "));
            out().printf(Locale.ROOT, "encode: %d images drawn from the GAN generator %s (%d px canvas, taps %s), %s, chunks of %d, seed %d -> %s%s%n",
                    synthetic, GanGenerators.describe(gan), c.canvasSize(), taps, p.dtypeName(), chunkSize, seed, out, resume ? " (resuming)" : "");
            out().flush();
            report(FeatureStore.encodeGenerated(generator, synthetic, seed, out, new FeatureStore.Options(chunkSize, batch, p, resume, GanGenerators.describe(gan))));
        }
        return 0;
    }

    private void report(FeatureStore.Summary s) {
        out().printf(Locale.ROOT, "encoded %d chunks (%d kept from before) in %.1f s: %d chunks, %.1f MB in %s%n", s.encodedChunks(),
                s.skippedChunks(), s.seconds(), s.chunks(), s.bytes() / 1e6, s.dir());
    }
}
