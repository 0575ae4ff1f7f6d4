package org.dreamteacher.parallel;

import org.dreamteacher.torch.kernels.TensorLossKernels;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.distill.Distiller;
import org.dreamteacher.distill.LabelGuidance;
import org.dreamteacher.diffusion.TeacherTrainer;
import org.dreamteacher.kernels.Backends;
import org.dreamteacher.kernels.NativeLibrary;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;

/**
 * One process of the data-parallel tests: trains a tiny teacher or distils into a tiny backbone as rank
 * {@code rank} of {@code world} (world 1: a plain single process with the same global batch), one thread.
 *
 * <p>Arguments: {@code teacher|distill|guided WORLD RANK PORT STEPS RUN_DIR TIMEOUT_S [own-dir] [die-at N] [resume]};
 * {@code guided}: label-guided distillation (classification, the first {@link #LABELLED} images labelled).
 * {@code own-dir}: every rank writes its files into its own RUN_DIR (so the test can compare the ranks' weights);
 * {@code die-at N}: this rank halts, as if killed, before its N-th step (after the optimiser step of step N - 1).
 * Exit code 0 on success, 1 with the error on standard error otherwise.
 */
public final class ParallelWorker {
    static final int BATCH = 8;
    static final int LABELLED = 16;
    /** Small buckets, so that the tiny models' gradients fill several, which start one by one during backward. */
    static final long BUCKET_BYTES = 16 << 10;

    static DiffusionConfig tinyTeacher() {
        UNetConfig u = new UNetConfig(1, 1, 28, 8, List.of(1, 2), 1, List.of(), 2, 0, false, 0.0, 0, 4, List.of(0, 2));
        return new DiffusionConfig(u, 200, "linear");
    }

    static ImageDataset images() throws java.io.IOException {
        ImageDataset train = FashionMnist.embeddedSubset().train();
        int[] first = new int[64];
        for (int i = 0; i < first.length; i++) first[i] = i;
        return train.subset(first);
    }

    /** Label guidance on the first {@link #LABELLED} images, their whole set in every interpreter step. */
    static LabelGuidance guidance(ImageDataset images) {
        int[] labelled = new int[LABELLED];
        for (int i = 0; i < labelled.length; i++) labelled[i] = i;
        Batches batches = Batches.of(images).indices(labelled).batchSize(LABELLED).seed(5).dropLast(true).build();
        return new LabelGuidance(LabelGuidance.Task.CLASSIFICATION, images.numClasses(), batches,
                LabelGuidance.Settings.defaults().withInterpreterSteps(3).withInterpreterBatch(LABELLED).withInterpreterChannels(16));
    }

    public static void main(String[] args) {
        try {
            run(args);
            System.out.println("worker done");
            System.exit(0);
        } catch (Throwable e) {
            System.err.println("worker failed: " + e.getMessage());
            if (System.getenv("DT_WORKER_TRACE") != null) e.printStackTrace();
            System.exit(1);
        }
    }

    static void run(String[] args) throws Exception {
        String mode = args[0];
        int world = Integer.parseInt(args[1]), rank = Integer.parseInt(args[2]), port = Integer.parseInt(args[3]);
        int steps = Integer.parseInt(args[4]);
        Path dir = Path.of(args[5]);
        Duration timeout = Duration.ofSeconds(Long.parseLong(args[6]));
        List<String> flags = List.of(args).subList(7, args.length);
        boolean ownDir = flags.contains("own-dir"), resume = flags.contains("resume");
        int dieAt = flags.contains("die-at") ? Integer.parseInt(flags.get(flags.indexOf("die-at") + 1)) : -1;
        Progress.setEnabled(false);
        TorchRuntime.init();
        torch.set_num_threads(1);
        NativeLibrary.setNumThreads(1);
        ImageDataset images = images();

        DistributedContext context = world > 1 ? DistributedContext.join(DistributedOptions.of(world, rank, "127.0.0.1", port, timeout)
                .withBucketBytes(BUCKET_BYTES)) : null;
        DataParallel base = context != null ? context : DataParallel.SINGLE;
        DataParallel parallel = new DataParallel() {
            int finished;

            public int rank() {
                return base.rank();
            }

            public int worldSize() {
                return base.worldSize();
            }

            public boolean writesFiles() {
                return ownDir || base.writesFiles();
            }

            public Batches shard(Batches global) {
                return base.shard(global);
            }

            public void begin(long step, List<? extends Module> modules) {
                base.begin(step, modules);
            }

            public void reduceGradients(TensorVector parameters) {
                base.reduceGradients(parameters);
            }

            public void afterStep(List<? extends Module> modules) {
                base.afterStep(modules);
                // Halting here, between steps, is deterministic: within a step the gradients' all-reduces start
                // during backward and may or may not complete, depending on timing.
                if (++finished == dieAt - 1) Runtime.getRuntime().halt(137);
            }
        };
        if (mode.equals("teacher")) {
            TeacherTrainer.Settings s = TeacherTrainer.Settings.defaults().withSteps(steps).withBatchSize(BATCH).withLr(1e-3)
                    .withWeightDecay(0).withWarmupSteps(1).withEmaDecay(0.9).withSeed(3).withCheckpointEvery(1).withLogEvery(1);
            new TeacherTrainer(tinyTeacher(), images, s).parallel(parallel).run(dir, resume);
        } else {
            torch.manual_seed(11);
            try (GaussianDiffusion teacher = tinyTeacher().build()) {
                Distiller.Settings s = Distiller.Settings.defaults().withSteps(steps).withBatchSize(BATCH).withLr(2e-3)
                        .withWeightDecay(0.01).withWarmupSteps(1).withTimestep(20).withSeed(5).withCheckpointEvery(1).withLogEvery(1)
                        .withRegressorChannels(8);
                ResNetConfig backbone = ResNetConfig.small(18, 4, 1, 10);
                Distiller distiller = new Distiller(teacher.unet(), teacher.schedule(), "tiny", backbone, images, TensorLossKernels.get("cpu"), s);
                if (mode.equals("guided")) distiller = distiller.withLabelGuidance(guidance(images));
                distiller.parallel(parallel).run(dir, resume);
            }
        }
        if (context != null) {
            GradientBuckets b = context.buckets();
            System.out.printf("rank %d: %d buckets, %d bytes per step, %.3f s in gradient all-reduce, %d of %d all-reduces started during backward%n",
                    rank, b.buckets(), b.bytesPerStep(), b.seconds(), b.overlappedAllReduces(), b.allReduces());
            context.close();
        }
    }
}
