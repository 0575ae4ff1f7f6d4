package org.dreamteacher.data;

/**
 * The salts that split one user seed into independent random streams, one per use:
 * {@code SeededRandom.mix(seed, SeedStreams.X, ...)}. Each is a few ASCII letters read as a number, so that no two
 * uses draw the same numbers from the same seed by accident. The values are part of every result's
 * reproducibility: changing one changes what a seed gives.
 */
public final class SeedStreams {
    private SeedStreams() {}

    /** "Class": the order of each class's images from which balanced labelled subsets take their first k. */
    public static final long CLASS_ORDER = 0x436C617373L;
    /** "Order": the shuffled order of the images in each epoch of a batch stream. */
    public static final long BATCH_ORDER = 0x4F72646572L;
    /** "Augm": the augmentation (flips) of each image, by epoch and position, in a batch stream. */
    public static final long AUGMENTATION = 0x4175676DL;
    /** "Init": the random weights of a backbone that an evaluation starts from random initialisation. */
    public static final long BACKBONE_INIT = 0x496E6974L;
    /**
     * "Head": the initial weights of the new head of a fine-tuning or a segmentation; classification and
     * segmentation share it, as they never run in one model.
     */
    public static final long HEAD_INIT = 0x48656164L;
    /** "Step": libtorch's generator at each optimiser step of a fine-tuning (dropout, drop path), by step. */
    public static final long TRAINING_STEP = 0x53746570L;
    /**
     * "TrSce": the training scenes of a segmentation evaluation, and those of a distillation on scenes with the
     * same seed (so that a label-guided run's labelled scenes are the evaluation's).
     */
    public static final long TRAIN_SCENES = 0x5472536365L;
    /** "ProbeCVP": the cross-validation folds that choose a linear probe's L2 penalty. */
    public static final long PROBE_FOLDS = 0x50726F6265435650L;
    /** "SampleNz": the noise of the teacher's samples in a synthetic feature dataset, by first image of the batch. */
    public static final long SYNTHETIC_SAMPLES = 0x53616D706C654E7AL;
    /** "EncodeNz": the noise added to each image, by index, when a feature dataset is encoded. */
    public static final long ENCODING_NOISE = 0x456E636F64654E7AL;
    /** "Labelled": the order of the labelled batches that train the interpreter in label-guided distillation. */
    public static final long LABELLED_BATCHES = 0x4C6162656C6C6564L;
    /** "GAN-Feat": the latents and noise of a distillation step from a GAN generator, by step and batch offset. */
    public static final long GAN_FEATURES = 0x47414E2D46656174L;
    /** "GAN-Stor": the latents and noise inputs of a generated feature store's batch, by the batch's first index. */
    public static final long GAN_STORE = 0x47414E2D53746F72L;
    /** "GAN-Invr": the mean style and noise inputs of inverting a label-guided run's labelled images into a GAN. */
    public static final long GAN_INVERSION = 0x47414E2D496E7672L;
    /** "GAN-Step": libtorch's generator at each step of a GAN's training (latents, noise inputs), by step. */
    public static final long GAN_STEP = 0x47414E2D53746570L;
    /** "GAN-Grid": the fixed latents of a GAN's sample grid, the same at every redraw. */
    public static final long GAN_GRID = 0x47414E2D47726964L;

    /**
     * libtorch's generator at step {@code step} of a teacher training, a distillation and a label-guided
     * interpreter (which counts its steps after the distillation's): {@code seed · 1,000,003 + step}. An older
     * scheme than the salts above, kept because it decides those runs' results.
     */
    public static long stepSeed(long seed, long step) {
        return seed * 1_000_003L + step;
    }

    /**
     * The diffusion noise of the batch of step {@code step} of a teacher training or an online distillation
     * ({@code Noise.rows} of it, by image): {@code seed · 7,919 + step}. Kept as it is for the same reason.
     */
    public static long stepNoiseSeed(long seed, long step) {
        return seed * 7_919L + step;
    }
}
