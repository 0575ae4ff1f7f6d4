package org.dreamteacher.gan;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.train.CosineSchedule;
import org.dreamteacher.train.TrainingLoop;

/**
 * Finds, for real images, styles w from which the generator draws them back: the GAN counterpart of encoding an
 * image into a diffusion model, which label-guided distillation needs to read a GAN teacher's features of its
 * labelled images (a generator has no encoder). As in StyleGAN2's projector, each image's w starts at the mean
 * style (the mapping network's output averaged over many latents) and Adam minimises the mean squared error
 * between the generated image, cropped to the image size, and the real one; the generator's weights stay fixed
 * and its per-pixel noise is drawn afresh each step from libtorch's generator, seeded from (seed, batch, step).
 * Each batch of images is one run of {@link TrainingLoop} (a progress bar, the finite check of every step).
 */
public final class GanInversion {
    private GanInversion() {}

    /**
     * @param steps     Adam steps per batch of images
     * @param lr        Adam's learning rate on w
     * @param batchSize images optimised together (each has its own w; the batch only shares the passes)
     */
    public record Settings(int steps, double lr, int batchSize) {
        public Settings {
            if (steps < 1) throw new IllegalArgumentException("inversion steps must be >= 1, got " + steps);
            if (!(lr > 0) || !Double.isFinite(lr)) throw new IllegalArgumentException("inversion learning rate must be finite and > 0, got " + lr);
            if (batchSize < 1) throw new IllegalArgumentException("inversion batch must be >= 1, got " + batchSize);
        }

        /** 200 steps at 0.05, 64 images at a time. */
        public static Settings defaults() {
            return new Settings(200, 0.05, 64);
        }

        public Settings withSteps(int v) {
            return new Settings(v, lr, batchSize);
        }

        public Settings withLr(double v) {
            return new Settings(steps, v, batchSize);
        }

        public Settings withBatchSize(int v) {
            return new Settings(steps, lr, v);
        }
    }

    /** Latents averaged for the mean style. */
    static final int MEAN_LATENTS = 1024;

    /**
     * Styles (N, wDim) for images (N, channels, imageSize, imageSize) in [-1, 1], batch by batch. Deterministic for a
     * seed. The result belongs to the caller's {@code PointerScope}, if one is open.
     */
    public static Tensor invert(GanGenerator generator, Tensor images, Settings s, long seed) throws java.io.IOException {
        GanConfig c = generator.config();
        if (images == null || images.dim() != 4 || images.size(1) != c.channels() || images.size(2) != c.imageSize() || images.size(3) != c.imageSize())
            throw new IllegalArgumentException("GanInversion: images must be (N, " + c.channels() + ", " + c.imageSize() + ", " + c.imageSize()
                    + "), the generator's image size");
        long n = images.size(0);
        boolean training = generator.is_training();
        generator.eval();
        TensorVector params = generator.parameters();
        boolean[] grad = new boolean[(int) params.size()];
        for (int i = 0; i < grad.length; i++) {
            grad[i] = params.get(i).requires_grad();
            params.get(i).set_requires_grad(false);
        }
        try {
            torch.manual_seed(seed);
            Tensor mean = meanStyle(generator);
            Tensor out = torch.empty(n, c.wDim());
            for (long from = 0; from < n; from += s.batchSize()) {
                long b = Math.min(s.batchSize(), n - from);
                try (PointerScope scope = new PointerScope()) {
                    Tensor target = images.narrow(0, from, b).detach(); // the images only: never a path for gradients
                    Tensor w = mean.expand(b, -1).clone().set_requires_grad(true);
                    TensorVector styles = new TensorVector(w);
                    Adam adam = new Adam(styles, new AdamOptions(s.lr()));
                    long first = from;
                    // a constant learning rate (the cosine's floor is its base); the step's noise inputs from (seed, batch, step)
                    TrainingLoop.builder(adam, styles, new CosineSchedule(s.lr(), 0, s.steps(), 1.0), s.steps(),
                            step -> torch.mse_loss(generator.crop(generator.synthesizeStyles(w).image()), target))
                            .seeds(step -> SeededRandom.mix(seed, first, step))
                            .nonFinite("inversion error", "Lower the inversion's learning rate, or check the generator")
                            .progress("inversion")
                            .owning(adam)
                            .build().run();
                    try (NoGradGuard ng = new NoGradGuard()) {
                        out.narrow(0, from, b).copy_(w.detach());
                    }
                }
            }
            return out;
        } finally {
            for (int i = 0; i < grad.length; i++) params.get(i).set_requires_grad(grad[i]);
            generator.train(training);
        }
    }

    /** Mean squared error per image (N) between what the generator draws from styles w and the images. */
    public static Tensor reconstructionError(GanGenerator generator, Tensor w, Tensor images, long seed) {
        try (NoGradGuard ng = new NoGradGuard()) {
            torch.manual_seed(seed);
            Tensor drawn = generator.crop(generator.synthesizeStyles(w).image());
            return drawn.sub(images).square().mean(new long[] {1, 2, 3}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
        }
    }

    private static Tensor meanStyle(GanGenerator generator) {
        try (NoGradGuard ng = new NoGradGuard()) {
            return generator.mapping(generator.latents(MEAN_LATENTS)).mean(new long[] {0}, true, new org.bytedeco.pytorch.ScalarTypeOptional());
        }
    }
}
