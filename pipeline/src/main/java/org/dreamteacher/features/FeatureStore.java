package org.dreamteacher.features;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.FeatureTeacher;
import org.dreamteacher.torch.CpuTensors;
import org.dreamteacher.torch.TorchRuntime;

/**
 * An offline feature dataset D = {x_i, f_i^g} (docs/design.md section 1): the teacher's multi-scale features of
 * every image, computed once and kept on disk in chunks, so that distillation can read them instead of
 * running the teacher at every step.
 *
 * <p>Why offline at all: the teacher's forward pass is the dearest part of a distillation step on a CPU, and
 * it is the same work every epoch. The price is that every image gets one fixed noise draw instead of fresh
 * noise each time it is seen (the paper found fresh noise slightly better), that augmentations cannot be
 * applied after the fact, and disk space; {@code distill.OnlineFeatures} remains the alternative.
 *
 * <p>Layout of a store's folder: {@code manifest.json} ({@link FeatureManifest}) and {@code chunk-00000.dtt},
 * {@code chunk-00001.dtt}, ... ({@code org.dreamteacher.torch.TensorFile}s) holding images
 * {@code k * chunkSize ..} in order: their indices (int64), one tensor per tap {@code features/<name>} in
 * float16 or float32, and for synthetic and generated stores the images (float32). Every file is written atomically and the
 * manifest is rewritten after each chunk, so an interrupted encoding resumes where it stopped.
 *
 * <p>Reproducibility: the noise of image i depends only on (seed, i) ({@link #imageNoise}), synthetic
 * and generated images only on (seed, their batch's first index), and sub-batches are fixed by the batch size, so a resumed
 * encoding writes byte-identical chunks (on the same machine and libtorch; the teacher's float arithmetic
 * may round differently elsewhere).
 *
 * <p>An instance is an open store for reading: chunks are mapped read-only and checked at {@link #open}, and
 * {@link #features(int[])} gathers rows from them into fresh float32 tensors. Safe to call from several
 * threads; {@link #close()} waits for readers and then unmaps the chunks.
 */
public final class FeatureStore implements AutoCloseable {
    /** A reasonable chunk: 256 images of the shipped teacher are about 42 MB in float32. */
    public static final int DEFAULT_CHUNK_SIZE = 256;
    /** Images per teacher forward when none is given (at most the chunk size). */
    public static final int DEFAULT_BATCH_SIZE = 32;

    /** How features are kept on disk. Float16 halves the size; its rounding (relative 2^-11) is far below what a student learns. */
    public enum Precision {
        FLOAT16("float16", ScalarType.Half, 2), FLOAT32("float32", ScalarType.Float, 4);

        final String dtypeName;
        final ScalarType type;
        final int bytes;

        Precision(String dtypeName, ScalarType type, int bytes) {
            this.dtypeName = dtypeName;
            this.type = type;
            this.bytes = bytes;
        }

        /** The dtype name used in the files ("float16" or "float32"). */
        public String dtypeName() {
            return dtypeName;
        }

        static Precision of(String dtypeName) {
            for (Precision p : values()) if (p.dtypeName.equals(dtypeName)) return p;
            return null;
        }
    }

    /** Settings of an encoding beyond what defines the features. */
    public record Options(int chunkSize, int batchSize, Precision precision, boolean resume, String teacherSource) {
        public Options {
            if (chunkSize < 1) throw new IllegalArgumentException("chunk size must be >= 1, got " + chunkSize);
            if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
            if (precision == null) throw new IllegalArgumentException("precision is null");
            batchSize = Math.min(batchSize, chunkSize);
            teacherSource = teacherSource == null ? "" : teacherSource;
        }

        /** Batches of {@link #DEFAULT_BATCH_SIZE} (or the chunk size if smaller), no teacher source. */
        public static Options of(int chunkSize, Precision precision, boolean resume) {
            return new Options(chunkSize, DEFAULT_BATCH_SIZE, precision, resume, "");
        }

        public Options withBatchSize(int b) {
            return new Options(chunkSize, b, precision, resume, teacherSource);
        }

        /** Records where the teacher came from (a checkpoint path, say) in the manifest. */
        public Options withTeacherSource(String source) {
            return new Options(chunkSize, batchSize, precision, resume, source);
        }
    }

    /** What an encoding did: chunks written now, chunks found finished (resume), and the store's size on disk. */
    public record Summary(Path dir, int chunks, int encodedChunks, int skippedChunks, long bytes, double seconds) {}

    private final Path dir;
    private final FeatureManifest manifest;
    private final ChunkFile[] chunks;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    private FeatureStore(Path dir, FeatureManifest manifest, ChunkFile[] chunks) {
        this.dir = dir;
        this.manifest = manifest;
        this.chunks = chunks;
    }

    // ----------------------------------------------------------------------------------------------- writing

    /**
     * Encodes every image of {@code data}: noised to {@code timestep} with the noise of {@link #imageNoise}
     * (seed, index), one teacher forward, the taps kept in {@code precision}. With {@code resume}, chunks the
     * manifest lists (and that still verify) are kept and the rest encoded; a manifest of another encoding is
     * an error. Without it, any store in {@code dir} is replaced.
     */
    public static Summary encode(FeatureTeacher teacher, NoiseSchedule schedule, ImageDataset data, int timestep, long seed, Path dir,
            int chunkSize, Precision precision, boolean resume) throws IOException {
        return encode(teacher, schedule, data, timestep, seed, dir, Options.of(chunkSize, precision, resume));
    }

    /** {@link #encode(FeatureTeacher, NoiseSchedule, ImageDataset, int, long, Path, int, Precision, boolean)} with all options. */
    public static Summary encode(FeatureTeacher teacher, NoiseSchedule schedule, ImageDataset data, int timestep, long seed, Path dir,
            Options options) throws IOException {
        return FeatureEncoder.encoded(teacher, schedule, data, timestep, seed, dir, options);
    }

    /**
     * A synthetic store: {@code count} images sampled from {@code teacher} with deterministic DDIM
     * ({@code ddimSteps} steps, eta = 0, start noise from (seed, first index of each batch)), then encoded at
     * {@code timestep} exactly as real images are. The chunks hold the images too, so that a student can be
     * trained on them ({@link #imageDataset()}).
     */
    public static Summary encodeSynthetic(GaussianDiffusion teacher, int count, int ddimSteps, int timestep, long seed, Path dir,
            int chunkSize, Precision precision, boolean resume) throws IOException {
        return encodeSynthetic(teacher, count, ddimSteps, timestep, seed, dir, Options.of(chunkSize, precision, resume));
    }

    /** {@link #encodeSynthetic(GaussianDiffusion, int, int, int, long, Path, int, Precision, boolean)} with all options. */
    public static Summary encodeSynthetic(GaussianDiffusion teacher, int count, int ddimSteps, int timestep, long seed, Path dir,
            Options options) throws IOException {
        return FeatureEncoder.synthetic(teacher, count, ddimSteps, timestep, seed, dir, options);
    }

    /**
     * Writes a generated store: {@code count} images drawn from a GAN generator, each with the outputs of the
     * generator's synthesis blocks recorded while it drew the image (no encoder, no noise). The images are the
     * generator's whole canvas clamped to [-1, 1], as {@code distill.GanFeatures} gives them online; each batch's latents
     * come from the seed and the batch's first index, so a resumed store equals an uninterrupted one.
     */
    public static Summary encodeGenerated(GanGenerator generator, int count, long seed, Path dir, Options options) throws IOException {
        return FeatureEncoder.generated(generator, count, seed, dir, options);
    }

    /**
     * The encoding noise of image {@code index}: a stream of its own, so that any chunk (or any single image) can
     * be recomputed without the others, whatever the chunk and batch sizes.
     */
    public static Noise imageNoise(long seed, long index) {
        return new Noise(SeededRandom.mix(seed, SeedStreams.ENCODING_NOISE, index));
    }

    /** The (N, c, h, w) encoding noise of the images {@code indices}: {@link #imageNoise} of each, stacked. */
    public static Tensor encodingNoise(long seed, int[] indices, long c, long h, long w) {
        return encodingNoise(seed, indices, new long[] {c, h, w});
    }

    /**
     * The encoding noise of the images {@code indices} with {@code perImage} values per image (the shape of a
     * latent teacher's latent, say): {@link #imageNoise} of each, stacked into (N, perImage...).
     */
    public static Tensor encodingNoise(long seed, int[] indices, long[] perImage) {
        TorchRuntime.init();
        long[] shape = new long[perImage.length + 1];
        shape[0] = indices.length;
        System.arraycopy(perImage, 0, shape, 1, perImage.length);
        Tensor out = torch.empty(shape, new TensorOptions(ScalarType.Float), new MemoryFormatOptional());
        for (int j = 0; j < indices.length; j++) {
            try (PointerScope scope = new PointerScope()) {
                out.select(0, j).copy_(imageNoise(seed, indices[j]).normal(perImage));
            }
        }
        return out;
    }

    // ----------------------------------------------------------------------------------------------- reading

    /**
     * A SHA-256 of the images' shape and values, as an encoded store records it: a store is used only with the
     * dataset it was encoded from.
     */
    public static String datasetFingerprint(ImageDataset data) {
        return FeatureEncoder.datasetFingerprint(data);
    }

    /** Opens a finished store, verifying every chunk's checksum; see {@link #open(Path, boolean)}. */
    public static FeatureStore open(Path dir) throws IOException {
        return open(dir, true);
    }

    /**
     * Opens a finished store: reads the manifest, maps every chunk and checks each against it (present, size,
     * checksum listed, tensors, shapes, indices). With {@code verifyChecksums} every byte is also checksummed,
     * which reads the whole store once; without it, a store checked before opens in milliseconds. An unfinished
     * store is refused: it would silently train on part of the data.
     */
    public static FeatureStore open(Path dir, boolean verifyChecksums) throws IOException {
        TorchRuntime.init();
        FeatureManifest m = FeatureManifest.read(dir);
        if (!m.isComplete())
            throw new FeatureStoreException(dir.resolve(FeatureManifest.FILE), "the encoding is unfinished: " + m.chunks().size() + " of "
                    + m.chunkCount() + " chunks are done; finish it with resume = true");
        ChunkFile[] files = new ChunkFile[m.chunkCount()];
        try {
            for (FeatureManifest.Chunk c : m.chunks()) files[c.index()] = ChunkFile.map(dir, m, c, verifyChecksums);
        } catch (IOException | RuntimeException e) {
            for (ChunkFile f : files) if (f != null) f.close();
            throw e;
        }
        return new FeatureStore(dir, m, files);
    }

    public Path dir() {
        return dir;
    }

    public FeatureManifest manifest() {
        return manifest;
    }

    /** Number of images. */
    public int size() {
        return manifest.size();
    }

    public List<FeatureManifest.Tap> taps() {
        return manifest.taps();
    }

    /** Whether {@link #images(int[])} can be called (synthetic and generated stores). */
    public boolean hasImages() {
        return manifest.hasImages();
    }

    /**
     * The stored features of images {@code indices} (any order, repeats allowed), one float32 (B, C, H, W) map
     * per tap in the manifest's order, with its stride. The tensors are new and owned by the caller (made in
     * the caller's {@code PointerScope}, if any).
     */
    public List<FeatureMap> features(int[] indices) {
        List<FeatureManifest.Tap> taps = manifest.taps();
        List<FeatureMap> out = new ArrayList<>(taps.size());
        for (FeatureManifest.Tap t : taps)
            out.add(new FeatureMap(t.name(), torch.empty(new long[] {indices.length, t.channels(), t.height(), t.width()},
                    new TensorOptions(ScalarType.Float), new MemoryFormatOptional()), t.stride()));
        List<String> names = new ArrayList<>();
        List<long[]> shapes = new ArrayList<>();
        for (FeatureManifest.Tap t : taps) {
            names.add(ChunkFile.FEATURE_PREFIX + t.name());
            shapes.add(new long[] {t.channels(), t.height(), t.width()});
        }
        List<Tensor> targets = new ArrayList<>();
        for (FeatureMap f : out) targets.add(f.tensor());
        gather(indices, names, shapes, manifest.precision().type, targets);
        return out;
    }

    /** The stored images {@code indices} as a float32 (B, C, H, W) tensor in [-1, 1] (synthetic and generated stores only). */
    public Tensor images(int[] indices) {
        if (!manifest.hasImages())
            throw new IllegalStateException(dir + " holds encoded features of a dataset, not images: take the images from that dataset");
        int[] s = manifest.imageShape();
        Tensor out = torch.empty(new long[] {indices.length, s[0], s[1], s[2]}, new TensorOptions(ScalarType.Float), new MemoryFormatOptional());
        gather(indices, List.of(ChunkFile.IMAGES), List.of(new long[] {s[0], s[1], s[2]}), ScalarType.Float, List.of(out));
        return out;
    }

    /** All stored images as an in-memory dataset (synthetic and generated stores), to build {@code Batches} over. */
    public ImageDataset imageDataset() {
        int n = size();
        int[] s = manifest.imageShape();
        int per = s[0] * s[1] * s[2];
        float[] pixels = new float[Math.multiplyExact(n, per)];
        for (int first = 0; first < n; first += manifest.chunkSize()) {
            int count = Math.min(manifest.chunkSize(), n - first);
            int[] idx = new int[count];
            for (int j = 0; j < count; j++) idx[j] = first + j;
            try (PointerScope scope = new PointerScope()) {
                Tensor t = images(idx);
                float[] part = new float[count * per];
                t.data_ptr_float().get(part);
                System.arraycopy(part, 0, pixels, first * per, part.length);
            }
        }
        return ImageDataset.ofFloats(pixels, n, s[0], s[1], s[2], null, 0, null);
    }

    /** Gathers rows of the named chunk tensors into {@code targets} (float32, (B, ...)): per chunk one byte gather, one cast, one scatter. */
    private void gather(int[] indices, List<String> names, List<long[]> rowShapes, ScalarType stored, List<Tensor> targets) {
        int chunkSize = manifest.chunkSize();
        int[] counts = new int[chunks.length];
        for (int i : indices) {
            if (i < 0 || i >= manifest.size()) throw new IndexOutOfBoundsException("image index " + i + " outside 0.." + (manifest.size() - 1));
            counts[i / chunkSize]++;
        }
        long[][] rows = new long[chunks.length][], positions = new long[chunks.length][];
        for (int k = 0; k < chunks.length; k++) {
            rows[k] = new long[counts[k]];
            positions[k] = new long[counts[k]];
        }
        int[] fill = new int[chunks.length];
        for (int j = 0; j < indices.length; j++) {
            int k = indices[j] / chunkSize;
            rows[k][fill[k]] = indices[j] - (long) k * chunkSize;
            positions[k][fill[k]++] = j;
        }
        lock.readLock().lock();
        try (PointerScope scope = new PointerScope()) {
            if (closed) throw new IllegalStateException("feature store " + dir + " is closed");
            for (int k = 0; k < chunks.length; k++) {
                if (counts[k] == 0) continue;
                Tensor r = CpuTensors.longs(rows[k]), p = CpuTensors.longs(positions[k]);
                for (int n = 0; n < names.size(); n++) {
                    long[] shape = new long[rowShapes.get(n).length + 1];
                    shape[0] = counts[k];
                    System.arraycopy(rowShapes.get(n), 0, shape, 1, shape.length - 1);
                    Tensor rowsTyped = chunks[k].gatherBytes(names.get(n), r).view(stored).view(shape);
                    targets.get(n).index_copy_(0, p, rowsTyped.to(ScalarType.Float));
                }
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Unmaps every chunk; later reads fail. Idempotent. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            for (ChunkFile c : chunks) if (c != null) c.close();
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "FeatureStore(" + dir + ", " + manifest.mode().key() + ", " + size() + " images, " + manifest.precision().dtypeName
                + (manifest.timestep() >= 0 ? ", t = " + manifest.timestep() : "") + ")";
    }
}
