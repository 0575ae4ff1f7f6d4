package org.dreamteacher.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.dreamteacher.data.FashionScenes;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.LabelledScenes;
import org.dreamteacher.data.LabelledSubset;
import org.dreamteacher.data.SegmentationDataset;
import org.dreamteacher.diffusion.LoadedTeacher;
import org.dreamteacher.distill.Distiller;
import org.dreamteacher.distill.GanFeatures;
import org.dreamteacher.distill.LabelGuidance;
import org.dreamteacher.distill.StoredFeatures;
import org.dreamteacher.distill.TapPairing;
import org.dreamteacher.eval.SegmentationFineTune;
import org.dreamteacher.features.FeatureManifest;
import org.dreamteacher.features.FeatureStore;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.gan.GanInversion;
import org.dreamteacher.kernels.WhitenMode;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.Backbones;
import org.dreamteacher.nn.Checkpoints;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureRegressor;
import org.dreamteacher.nn.InitWeights;
import org.dreamteacher.nn.ModelConfig;
import org.dreamteacher.parallel.DataParallel;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.torch.kernels.TensorLossKernels;
import org.dreamteacher.train.MetricsLog;
import org.dreamteacher.viz.Charts;
import org.dreamteacher.viz.FeaturePictures;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** DreamTeacher pretraining: distills a teacher's features into a backbone, without labels. */
@Command(name = "distill", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class, sortOptions = false,
        description = {"Pretrain a backbone without labels by distilling a diffusion teacher's features.",
            "The backbone and an FPN + PPM regressor learn the teacher's multi-scale features of images noised to --timestep",
            "(whitened MSE + attention transfer, through the fused loss kernels).",
            "With --features DIR the targets come from a feature dataset written by encode; with --gan FILE from a GAN generator",
            "(train-gan), which draws fresh images every step.",
            "Writes backbone.dtt, regressor.dtt, checkpoints/, metrics.jsonl, loss-curve.png and pca-features.png into --out."})
final class DistillCommand extends CliCommand {
    @Mixin
    TeacherOptions teacherOptions;

    @Option(names = "--features", paramLabel = "DIR",
            description = "Train from a stored feature dataset (written by encode) instead of running the teacher at every step; no flips.")
    Path features;

    @Option(names = "--gan", paramLabel = "FILE",
            description = "Distil a GAN teacher instead (generator.dtt of train-gan, or 'shipped' for the one in dreamteacher-assets): every step generates fresh images, records the"
                    + " generator's block outputs and the backbone learns them from those images; no flips. With --label-guided, --data"
                    + " or --images give the labelled images, which are inverted into the generator for the interpreter.")
    Path gan;

    @Option(names = "--inversion-steps", paramLabel = "N", defaultValue = "200",
            description = "With --gan and --label-guided: Adam steps that invert each labelled image into the generator (a style from which it"
                    + " draws the image back), whose features the interpreter learns from (default: ${DEFAULT-VALUE}).")
    int inversionSteps;

    @Option(names = "--backbone", paramLabel = "NAME", defaultValue = "resnet18", description = "resnet18, resnet34, resnet50 or convnext (default: ${DEFAULT-VALUE}).")
    String backbone;

    @Option(names = "--width", paramLabel = "N", defaultValue = "32", description = "Backbone width: ResNet stem/first-stage channels, ConvNeXt first dim (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--init", paramLabel = "FILE",
            description = {"Start the backbone from the weights in FILE instead of random ones: a .safetensors state dict (from export, or "
                    + "saved from PyTorch, e.g. torchvision's ResNet-50 into --backbone resnet50 --width 64 on images over 64 px) or a .dtt "
                    + "checkpoint. Loaded strictly by name and shape (every missing, unexpected or mis-shaped tensor is listed); a "
                    + "classification head, which distillation does not use, is skipped."})
    Path init;

    @Option(names = "--timestep", paramLabel = "T", defaultValue = "10",
            description = "Noise level of the encoded images (default: ${DEFAULT-VALUE}, the best of those measured on Fashion-MNIST).")
    int timestep;

    @Option(names = "--lambda-at", paramLabel = "L", defaultValue = "10", description = "Weight of the attention-transfer loss (default: ${DEFAULT-VALUE}).")
    float lambdaAt;

    @Option(names = "--whiten", paramLabel = "MODE", defaultValue = "per-sample", description = "Teacher whitening: per-sample or per-pixel (default: ${DEFAULT-VALUE}).")
    String whiten;

    @Option(names = "--regressor-channels", paramLabel = "N", defaultValue = "128", description = "Channels of the FPN + PPM feature regressor (default: ${DEFAULT-VALUE}).")
    int regressorChannels;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "1000", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", paramLabel = "RATE", defaultValue = "1e-3", description = "Peak learning rate of AdamW (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--checkpoint-every", paramLabel = "N", defaultValue = "200", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
    int checkpointEvery;

    @Mixin
    DataOptions data;

    @Option(names = "--scenes", paramLabel = "N", defaultValue = "0",
            description = "Distil on N Fashion-MNIST scenes (64x64 canvases of 1-4 items, made from the training images) instead of the images.")
    int scenes;

    @Mixin
    LabelGuidanceOptions guided;

    @Mixin
    ParallelOptions parallel;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/distill", description = "Run folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--resume", description = "Continue the run in --out from its last checkpoint (--steps may grow).")
    boolean resume;

    /** The labelled scenes of a label-guided run on scenes, written beside labelled.json (null otherwise). */
    private LabelledScenes labelledScenes;

    @Override
    int execute() throws Exception {
        requirePositive(steps, "--steps");
        if (batch < 2) throw usage("--batch must be >= 2, got " + batch);
        requirePositive(lr, "--lr");
        requirePositive(checkpointEvery, "--checkpoint-every");
        requirePositive(width, "--width");
        requirePositive(regressorChannels, "--regressor-channels");
        if (init != null) requireFile(init, "--init");
        if (timestep < 0) throw usage("--timestep must be >= 0, got " + timestep);
        requireNonNegative(lambdaAt, "--lambda-at");
        WhitenMode mode = whitenMode(whiten);
        teacherOptions.check(this);
        if (features != null) {
            if (teacherOptions.given()) throw usage("give either --features or a teacher (--teacher, --torchscript), not both");
            if (scenes != 0 || guided.enabled) throw usage("--features trains on the store's images: drop --scenes and --label-guided");
            requireDirectory(features, "--features");
        }
        if (gan != null) {
            if (teacherOptions.given() || features != null)
                throw usage("give one of --gan, --features or a teacher (--teacher, --torchscript)");
            if (scenes != 0) throw usage("--gan trains on generated images, not on scenes: drop --scenes");
            if (!guided.enabled && (data.data != null || data.images != null))
                throw usage("--gan trains on the images the generator draws: drop --data and --images (they give the labelled images of --label-guided)");
            requirePositive(inversionSteps, "--inversion-steps");
            if (spec.commandLine().getParseResult().hasMatchedOption("--timestep")) throw usage("--timestep applies to diffusion teachers, not to --gan");
            GanGenerators.check(this, gan, "--gan");
            if (parallel.worldSize(this) > 1) throw usage("--gan distils in one process: drop --nproc, --world-size and --rank");
        }
        parallel.requireDivisible(this, batch);
        if (parallel.launchesWorkers()) return parallel.launchWorkers(this);
        TorchRuntime.init();
        TensorLossKernels kernels = kernels();
        if (gan != null) return distillGan(kernels, mode);
        if (features != null) return distillStored(kernels, mode);
        if (scenes < 0) throw usage("--scenes must be >= 0, got " + scenes);
        // The scenes that `segment` trains on with this seed (and its default 64 px options): with label guidance
        // the first --labelled-scenes of them are labelled, and `segment --labelled` evaluates on exactly those.
        SegmentationDataset sceneSet = scenes == 0 ? null
                : SegmentationFineTune.trainScenes(data.trainImages(), FashionScenes.Options.DEFAULT, scenes, seed);
        ImageDataset images = sceneSet != null ? sceneSet.images() : data.trainImages();
        LabelGuidance guidance = guided.guidance(this, images, data.describe(), sceneSet, seed, parallel.worldSize(this));
        labelledScenes = guidance != null && sceneSet != null
                ? LabelledScenes.of(data.describe(), data.trainImages().size(), FashionScenes.Options.DEFAULT, seed, sceneSet, guided.labelledScenes)
                : null;
        if (batch > images.size()) throw usage("--batch " + batch + " is larger than the " + images.size() + " training images");
        ModelConfig backboneConfig = backboneConfig(images);
        Distiller.Settings settings = settings(timestep, mode, true);
        try (LoadedTeacher t = teacherOptions.open()) {
            Distiller distiller = new Distiller(t.teacher(), t.schedule(), t.source(), backboneConfig, images, kernels, settings);
            if (guidance != null) distiller = distiller.withLabelGuidance(guidance);
            distiller.initWeights(init);
            String header = String.format(Locale.ROOT, "distill: teacher %s (%s, t = %d) -> %s; %s, %d images", t.source(), t.noising(),
                    timestep, Backbones.describe(backboneConfig), data.describe(), images.size());
            Distiller.Result r = run(header, distiller, backboneConfig, kernels, guidance);
            if (r == null) return 0;
            if (r.backboneFile() != null) {
                Path pca = out.resolve("pca-features.png");
                try (ConfiguredModule b = Checkpoints.load(r.backboneFile());
                        FeatureRegressor reg = Checkpoints.load(out.resolve("regressor.dtt"), FeatureRegressor.class)) {
                    FeaturePictures.write(pca, t.teacher(), t.schedule(), timestep, b, reg, r.pairing().teacherNames(), r.pairing().backboneLevels(), images, 4, seed);
                }
                out().printf(Locale.ROOT, "features (PCA, teacher vs student): %s%n", pca);
            }
        }
        return 0;
    }

    /** {@code --features DIR}: the targets come from a feature store; its images are the dataset's (encoded) or its own (synthetic). */
    private int distillStored(TensorLossKernels kernels, WhitenMode mode) throws Exception {
        try (FeatureStore store = FeatureStore.open(features)) {
            FeatureManifest m = store.manifest();
            boolean generated = m.mode() == FeatureManifest.Mode.GENERATED;
            if (spec.commandLine().getParseResult().hasMatchedOption("--timestep") && (generated || timestep != m.timestep()))
                throw usage(generated ? "--timestep applies to diffusion teachers: " + features + " holds a GAN generator's features"
                        : "--timestep " + timestep + " differs from the t = " + m.timestep() + " that " + features + " was encoded at");
            ImageDataset images;
            StoredFeatures source;
            if (store.hasImages()) {
                if (data.data != null || data.images != null)
                    throw usage(features + " holds " + m.mode().name().toLowerCase(Locale.ROOT) + " images with their features: drop --data and --images");
                images = store.imageDataset();
                source = new StoredFeatures(store);
            } else {
                images = data.trainImages();
                try {
                    source = new StoredFeatures(store, images);
                } catch (IllegalArgumentException e) {
                    throw new CliException(DreamTeacherCli.Errors.oneLine(e.getMessage())
                            + " (give the same --data or --images as to encode)");
                }
            }
            if (batch > images.size()) throw usage("--batch " + batch + " is larger than the " + images.size() + " images of " + features);
            ModelConfig backboneConfig = backboneConfig(images);
            Distiller distiller = new Distiller(source, m.teacherSource(), backboneConfig, images, kernels, settings(generated ? 0 : m.timestep(), mode, false))
                    .initWeights(init);
            String header = String.format(Locale.ROOT, "distill: %s -> %s; %d images", source.describe(), Backbones.describe(backboneConfig),
                    images.size());
            run(header, distiller, backboneConfig, kernels, null);
        }
        return 0;
    }

    /** {@code --gan FILE}: the targets and the images both come from the generator, fresh every step. */
    private int distillGan(TensorLossKernels kernels, WhitenMode mode) throws Exception {
        try (GanGenerator generator = GanGenerators.open(gan)) {
            GanFeatures source = new GanFeatures(generator, seed, GanInversion.Settings.defaults().withSteps(inversionSteps));
            ImageDataset placeholder = source.placeholderImages(batch);
            ModelConfig backboneConfig = backboneConfig(placeholder);
            // With label guidance the labelled images come from --data/--images; the student still sees only generated images.
            LabelGuidance guidance = guided.enabled ? guided.guidance(this, data.trainImages(), data.describe(), null, seed, 1) : null;
            Distiller distiller = new Distiller(source, GanGenerators.describe(gan), backboneConfig, placeholder, kernels, settings(0, mode, false))
                    .initWeights(init);
            if (guidance != null) distiller = distiller.withLabelGuidance(guidance);
            String header = String.format(Locale.ROOT, "distill: %s from %s -> %s; %dx%d px generated images", source.describe(), GanGenerators.describe(gan),
                    Backbones.describe(backboneConfig), placeholder.height(), placeholder.width());
            run(header, distiller, backboneConfig, kernels, guidance);
        }
        return 0;
    }

    private ModelConfig backboneConfig(ImageDataset images) {
        try {
            return Backbones.config(backbone, width, images.channels(), images.height(), 0);
        } catch (IllegalArgumentException e) {
            throw usage(DreamTeacherCli.Errors.oneLine(e.getMessage()));
        }
    }

    /**
     * The settings of this run at timestep {@code t}, the library's defaults where no option sets them. Stored
     * features hold the unflipped images' features, so runs from a store do not flip.
     */
    private Distiller.Settings settings(int t, WhitenMode mode, boolean flip) {
        // withSteps keeps the default warm-up, cut to the steps when they are fewer
        return Distiller.Settings.defaults().withSteps(steps).withBatchSize(batch).withLr(lr)
                .withTimestep(t).withLambdaAt(lambdaAt).withWhitenMode(mode)
                .withSeed(seed).withCheckpointEvery(checkpointEvery).withLogEvery(MetricsLog.interval(steps)).withFlip(flip)
                .withRegressorChannels(regressorChannels);
    }

    /**
     * Checks {@code --init} and the tap pairing on a probe of the backbone (so that a file that does not fit fails
     * at once, with every problem listed), prints them under {@code header} with the settings, runs, and reports the
     * result and the loss curve. Returns null in a process that writes no files (a data-parallel rank other than 0).
     */
    private Distiller.Result run(String header, Distiller distiller, ModelConfig backboneConfig, TensorLossKernels kernels, LabelGuidance guidance)
            throws Exception {
        TapPairing pairing;
        InitWeights.Report initReport = null;
        try (ConfiguredModule probe = backboneConfig.build()) {
            if (init != null) initReport = InitWeights.load(init, probe);
            pairing = distiller.pairing((Backbone) probe);
        }
        out().println(header);
        if (initReport != null) out().printf(Locale.ROOT, "  init: %s%n", initReport.describe());
        out().printf(Locale.ROOT, "  tap pairing: %s%n", pairing.describe());
        out().printf(Locale.ROOT, "  %d steps, batch %d, lr %s, lambda_AT %s, whitening %s, backend %s, seed %d -> %s%s%n", steps, batch,
                num(lr), num(lambdaAt), whiten, kernels.name(), seed, out, resume ? " (resuming)" : "");
        if (guidance != null) out().printf(Locale.ROOT, "  label guidance: %s%n", guidance.describe());
        if (guided.subset != null) {
            // every rank writes the same bytes atomically; probe/finetune --labelled read them back
            Path file = out.resolve(LabelledSubset.FILE);
            guided.subset.write(file);
            out().printf(Locale.ROOT, "  labelled images: %s -> %s%n", guided.subset, file);
        }
        if (labelledScenes != null) { // as above, for segment --labelled
            Path file = out.resolve(LabelledScenes.FILE);
            labelledScenes.write(file);
            out().printf(Locale.ROOT, "  labelled scenes: %s -> %s%n", labelledScenes, file);
        }
        out().flush();
        DataParallel dp = parallel.join(this);
        Distiller.Result r = distiller.parallel(dp).run(out, resume);
        parallel.report(this);
        if (!dp.writesFiles()) return null;
        out().printf(Locale.ROOT, "distilled %d steps in %.1f s: loss %.4f -> %.4f%n", r.steps(), r.seconds(), r.firstLoss(), r.lastLoss());
        out().printf(Locale.ROOT, "backbone: %s%n", r.backboneFile());
        List<String> series = guidance == null ? List.of("loss", "whitened_mse", "attention") : List.of("loss", "whitened_mse", "attention", "label_distill");
        if (Charts.lossCurve(out.resolve("metrics.jsonl"), out.resolve("loss-curve.png"), "distillation loss", series))
            out().printf(Locale.ROOT, "loss curve: %s%n", out.resolve("loss-curve.png"));
        return r;
    }

    WhitenMode whitenMode(String text) {
        return switch (text.toLowerCase(Locale.ROOT).replace('_', '-')) {
            case "per-sample", "sample" -> WhitenMode.PER_SAMPLE;
            case "per-pixel", "pixel" -> WhitenMode.PER_PIXEL;
            default -> throw usage("--whiten must be per-sample or per-pixel, got '" + text + "'");
        };
    }
}
