package org.dreamteacher.features;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeedStreams;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.features.FeatureManifest.Chunk;
import org.dreamteacher.features.FeatureManifest.Mode;
import org.dreamteacher.features.FeatureManifest.Tap;
import org.dreamteacher.features.FeatureStore.Options;
import org.dreamteacher.features.FeatureStore.Precision;
import org.dreamteacher.features.FeatureStore.Summary;
import org.dreamteacher.gan.GanConfig;
import org.dreamteacher.gan.GanGenerator;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.FeatureTeacher;
import org.dreamteacher.nn.ModelConfigs;
import org.dreamteacher.nn.TeacherInput;
import org.dreamteacher.torch.CpuTensors;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;

/**
 * Writes feature stores (see {@link FeatureStore}). The loop is chunk by chunk: make the chunk's images (read
 * or sampled) in sub-batches, encode them, write the chunk file atomically, then list it in the manifest
 * atomically. Everything that decides a chunk's bytes goes into the manifest's identity, which a resumed run
 * must match.
 */
final class FeatureEncoder {
    private static final System.Logger LOG = System.getLogger(FeatureEncoder.class.getName());

    private static final double FLOAT16_MAX = 65504.0;
    private static final Pattern OUR_FILES = Pattern.compile("chunk-\\d{5}\\.dtt|\\.chunk-\\d{5}\\.dtt\\..*\\.tmp|\\.manifest\\.json\\..*\\.tmp");
    /** Temporary files of writes that a crash (kill -9, power loss) interrupted before their rename. */
    private static final Pattern OUR_TEMP_FILES = Pattern.compile("\\.chunk-\\d{5}\\.dtt\\..*\\.tmp|\\.manifest\\.json\\..*\\.tmp");

    /** Makes the images of one sub-batch, indices {@code first .. first + count - 1}, and the teacher's features of them. */
    private interface BatchSource {
        Made make(int first, int count);
    }

    /** A sub-batch's images and the teacher's feature maps of them. */
    private record Made(Tensor images, List<FeatureMap> features) {}

    private FeatureEncoder() {}

    static Summary encoded(FeatureTeacher teacher, NoiseSchedule schedule, ImageDataset data, int timestep, long seed, Path dir, Options o)
            throws IOException {
        TorchRuntime.init();
        if (data.size() < 1) throw new IllegalArgumentException("the dataset is empty");
        if (data.channels() != teacher.inChannels())
            throw new IllegalArgumentException("the data has " + data.channels() + " channels, the teacher expects " + teacher.inChannels());
        checkTimestep(timestep, schedule);
        ObjectNode id = identity(Mode.ENCODED, teacherJson(teacher, teacher), schedule, timestep, seed, o, data.size(), data.channels(),
                data.height(), data.width());
        id.putObject("dataset").put("fingerprint", datasetFingerprint(data));
        BatchSource source = (first, count) -> encodedBatch(teacher, schedule, data.toTensor(range(first, count)), first, timestep, seed);
        return run(teacher, probeTaps(teacher, schedule, timestep, data.channels(), data.height(), data.width()), dir, o, id, source, false,
                "encode");
    }

    static Summary synthetic(GaussianDiffusion teacher, int count, int ddimSteps, int timestep, long seed, Path dir, Options o)
            throws IOException {
        TorchRuntime.init();
        if (count < 1) throw new IllegalArgumentException("count must be >= 1, got " + count);
        if (teacher.config().unet().numClasses() > 0)
            throw new IllegalArgumentException("synthetic stores of a class-conditional teacher are not supported: it needs labels to sample");
        GaussianDiffusion.ddimTimesteps(teacher.timesteps(), ddimSteps); // validates the step count
        NoiseSchedule schedule = teacher.schedule();
        checkTimestep(timestep, schedule);
        int size = teacher.config().unet().imageSize(), channels = teacher.config().unet().inChannels();
        ObjectNode id = identity(Mode.SYNTHETIC, teacherJson(teacher, teacher.unet()), schedule, timestep, seed, o, count, channels, size, size);
        id.putObject("sampler").put("name", "ddim").put("steps", ddimSteps).put("eta", 0.0)
                .put("noise", "Noise(SeededRandom.mix(seed, " + SeedStreams.SYNTHETIC_SAMPLES + ", first index of the batch))");
        BatchSource source = (first, n) -> encodedBatch(teacher.unet(), schedule,
                teacher.sampleDdim(n, ddimSteps, 0.0, SeededRandom.mix(seed, SeedStreams.SYNTHETIC_SAMPLES, first)), first, timestep, seed);
        return run(teacher.unet(), probeTaps(teacher.unet(), schedule, timestep, channels, size, size), dir, o, id, source, true, "sample+encode");
    }

    /**
     * A store of images drawn from a GAN generator with the synthesis blocks' outputs recorded while it drew
     * them: the pairs {@code GanFeatures} makes online, kept. The images are the whole canvas clamped to [-1, 1]
     * (every tap's stride is exact on it); there is no noise level, so the identity has no schedule or timestep.
     */
    static Summary generated(GanGenerator generator, int count, long seed, Path dir, Options o) throws IOException {
        TorchRuntime.init();
        if (count < 1) throw new IllegalArgumentException("count must be >= 1, got " + count);
        GanConfig g = generator.config();
        int size = g.canvasSize(), channels = g.channels();
        ObjectNode id = FeatureManifest.JSON.createObjectNode();
        id.put("mode", Mode.GENERATED.key());
        id.set("teacher", teacherJson(generator, channels, TeacherInput.NOISED));
        id.put("seed", seed);
        id.put("latents", "torch.manual_seed(SeededRandom.mix(seed, " + SeedStreams.GAN_STORE + ", first index of the batch)), then latents and noise inputs");
        putLayout(id, o, count, channels, size, size);
        BatchSource source = (first, n) -> {
            torch.manual_seed(SeededRandom.mix(seed, SeedStreams.GAN_STORE, first));
            GanGenerator.Output out = generator.synthesize(generator.latents(n));
            return new Made(out.image().clamp(new ScalarOptional(new Scalar(-1.0)), new ScalarOptional(new Scalar(1.0))), out.features());
        };
        List<Tap> taps;
        boolean wasTraining = generator.is_training();
        generator.eval();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            taps = taps(generator.features(generator.latents(1)));
        } finally {
            generator.train(wasTraining);
        }
        return run(generator, taps, dir, o, id, source, true, "generate");
    }

    private static Summary run(Object teacher, List<Tap> taps, Path dir, Options o, ObjectNode id, BatchSource source, boolean storeImages,
            String task) throws IOException {
        long t0 = System.nanoTime();
        id.put("images", storeImages);
        int c = id.path("image").path("channels").asInt(), h = id.path("image").path("height").asInt(), w = id.path("image").path("width").asInt();
        ArrayNode tapList = id.putArray("taps");
        long bytesPerImage = 8 + (storeImages ? 4L * c * h * w : 0);
        for (Tap t : taps) {
            tapList.addObject().put("name", t.name()).put("channels", t.channels()).put("stride", t.stride()).put("height", t.height())
                    .put("width", t.width());
            bytesPerImage += t.valuesPerImage() * o.precision().bytes;
        }
        if (bytesPerImage * o.chunkSize() > Integer.MAX_VALUE - (1 << 20))
            throw new IllegalArgumentException("a chunk of " + o.chunkSize() + " images would take " + bytesPerImage * o.chunkSize()
                    + " bytes; chunks must stay under 2 GiB: use at most " + (Integer.MAX_VALUE - (1 << 20)) / bytesPerImage + " images per chunk");

        Files.createDirectories(dir);
        FeatureManifest fresh = new FeatureManifest(id, o.teacherSource(), List.of());
        FeatureManifest manifest;
        int skipped = 0;
        if (o.resume() && Files.exists(dir.resolve(FeatureManifest.FILE))) {
            FeatureManifest saved;
            try {
                saved = FeatureManifest.read(dir);
            } catch (FeatureStoreException e) {
                throw new FeatureStoreException(e.file(), e.getMessage().substring(e.file().toString().length() + 2)
                        + "; it cannot be resumed: start afresh (resume = false)", e);
            }
            saved.requireSameIdentity(id, dir);
            List<Chunk> kept = new ArrayList<>();
            for (Chunk ch : saved.chunks()) {
                try (ChunkFile f = ChunkFile.map(dir, saved, ch, true)) {
                    kept.add(ch);
                } catch (FeatureStoreException e) {
                    LOG.log(System.Logger.Level.WARNING, "feature store: " + e.getMessage() + " (encoding that chunk again)");
                }
            }
            skipped = kept.size();
            manifest = fresh.withChunks(kept);
            deleteFiles(dir, OUR_TEMP_FILES);
        } else {
            // Starting afresh: first a manifest listing nothing, then the old files go, so no crash in between
            // can leave a manifest listing chunks of another encoding.
            manifest = fresh;
            manifest.write(dir);
            deleteOurFiles(dir);
        }
        manifest.write(dir);

        int n = manifest.size(), chunkCount = manifest.chunkCount();
        boolean[] done = new boolean[chunkCount];
        int doneImages = 0;
        for (Chunk ch : manifest.chunks()) {
            done[ch.index()] = true;
            doneImages += ch.count();
        }
        int encoded = 0;
        boolean wasTraining = teacher instanceof Module m && m.is_training();
        if (teacher instanceof Module m) m.eval();
        try (Progress bar = Progress.start(task, n, doneImages, "img")) {
            for (int k = 0; k < chunkCount; k++) {
                if (done[k]) continue;
                Chunk ch = encodeChunk(dir, o, manifest, taps, source, storeImages, k);
                List<Chunk> list = new ArrayList<>(manifest.chunks());
                list.add(ch);
                manifest = manifest.withChunks(list);
                manifest.write(dir);
                encoded++;
                doneImages += ch.count();
                bar.stepTo(doneImages, "chunk " + (k + 1) + "/" + chunkCount);
            }
        } finally {
            if (teacher instanceof Module m) m.train(wasTraining);
        }
        long bytes = Files.size(dir.resolve(FeatureManifest.FILE));
        for (Chunk ch : manifest.chunks()) bytes += ch.bytes();
        return new Summary(dir, chunkCount, encoded, skipped, bytes, (System.nanoTime() - t0) / 1e9);
    }

    private static Chunk encodeChunk(Path dir, Options o, FeatureManifest manifest, List<Tap> taps, BatchSource source, boolean storeImages, int k)
            throws IOException {
        int first = k * manifest.chunkSize(), count = manifest.chunkLength(k);
        int[] img = manifest.imageShape();
        Path file = dir.resolve(FeatureManifest.chunkFileName(k));
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            long[] idx = new long[count];
            for (int j = 0; j < count; j++) idx[j] = first + j;
            Tensor indices = CpuTensors.longs(idx);
            tensors.put(ChunkFile.INDICES, indices);
            Tensor imageTensor = null;
            if (storeImages) {
                imageTensor = torch.empty(new long[] {count, img[0], img[1], img[2]}, new TensorOptions(ScalarType.Float), new MemoryFormatOptional());
                tensors.put(ChunkFile.IMAGES, imageTensor);
            }
            List<Tensor> out = new ArrayList<>();
            for (Tap t : taps) {
                Tensor f = torch.empty(new long[] {count, t.channels(), t.height(), t.width()}, new TensorOptions(o.precision().type),
                        new MemoryFormatOptional());
                out.add(f);
                tensors.put(ChunkFile.FEATURE_PREFIX + t.name(), f);
            }
            for (int off = 0; off < count; off += o.batchSize()) {
                int b = Math.min(o.batchSize(), count - off);
                try (PointerScope step = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                    Made made = source.make(first + off, b);
                    if (imageTensor != null) imageTensor.narrow(0, off, b).copy_(made.images());
                    for (int i = 0; i < taps.size(); i++) {
                        Tensor f = checked(made.features(), taps.get(i), b, o.precision(), file);
                        out.get(i).narrow(0, off, b).copy_(f);
                    }
                }
            }
            ObjectNode meta = FeatureManifest.JSON.createObjectNode();
            meta.put("content", ChunkFile.CONTENT);
            meta.put("version", FeatureManifest.VERSION);
            meta.put("chunk", k);
            meta.put("first", first);
            meta.put("count", count);
            meta.put("identity", manifest.identityHash());
            TensorFile.write(file, meta, tensors);
        }
        return new Chunk(k, file.getFileName().toString(), first, count, Files.size(file), trailerCrc(file));
    }

    private static Made encodedBatch(FeatureTeacher teacher, NoiseSchedule schedule, Tensor x0, int first, int timestep, long seed) {
        return new Made(x0, encodeBatch(teacher, schedule, x0, range(first, (int) x0.size(0)), timestep, seed));
    }

    /**
     * The encoding of one batch, {@code GaussianDiffusion.qSample} with the per-image noise and one teacher
     * forward; the teacher is already in eval mode and gradients are off. A teacher that noises its own latents
     * gets the clean images and per-image noise of its noise shape instead.
     */
    static List<FeatureMap> encodeBatch(FeatureTeacher teacher, NoiseSchedule schedule, Tensor x0, int[] indices, int timestep, long seed) {
        if (teacher.input() == TeacherInput.CLEAN) {
            long[] shape = teacher.noiseShape(x0);
            Tensor noise = FeatureStore.encodingNoise(seed, indices, java.util.Arrays.copyOfRange(shape, 1, shape.length));
            Tensor t = torch.full(new long[] {indices.length}, new Scalar(timestep), new TensorOptions(ScalarType.Long));
            return teacher.featuresOfClean(x0, t, noise);
        }
        Tensor eps = FeatureStore.encodingNoise(seed, indices, x0.size(1), x0.size(2), x0.size(3));
        Tensor t = torch.full(new long[] {indices.length}, new Scalar(timestep), new TensorOptions(ScalarType.Long));
        return teacher.features(GaussianDiffusion.qSample(schedule, x0, t, eps), t);
    }

    /** The tap's map of a batch in the store's dtype, after checking its shape and that the values survive the cast. */
    private static Tensor checked(List<FeatureMap> maps, Tap tap, int b, Precision p, Path file) {
        FeatureMap map = null;
        for (FeatureMap m : maps) if (m.name().equals(tap.name())) map = m;
        if (map == null) throw new IllegalStateException("the teacher stopped returning tap '" + tap.name() + "'");
        long[] shape = map.tensor().sizes().vec().get();
        long[] want = {b, tap.channels(), tap.height(), tap.width()};
        if (!java.util.Arrays.equals(shape, want))
            throw new IllegalStateException("tap '" + tap.name() + "' has shape " + java.util.Arrays.toString(shape) + ", expected "
                    + java.util.Arrays.toString(want));
        double max = map.tensor().abs().max().item_double();
        if (Double.isNaN(max) || Double.isInfinite(max))
            throw new IllegalStateException("the teacher's tap '" + tap.name() + "' has non-finite values while encoding " + file.getFileName());
        if (p == Precision.FLOAT16 && max > FLOAT16_MAX)
            throw new IllegalStateException("tap '" + tap.name() + "' reaches |x| = " + max + ", beyond float16's range: encode with FLOAT32");
        return map.tensor().to(p.type);
    }

    /** Names, channels, strides and sizes of the teacher's taps, from one forward on a blank image. */
    private static List<Tap> probeTaps(FeatureTeacher teacher, NoiseSchedule schedule, int timestep, int c, int h, int w) {
        boolean wasTraining = teacher instanceof Module m && m.is_training();
        if (teacher instanceof Module m) m.eval();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor x = torch.zeros(new long[] {1, c, h, w}, new TensorOptions(ScalarType.Float));
            return taps(encodeBatch(teacher, schedule, x, new int[] {0}, timestep, 0));
        } finally {
            if (teacher instanceof Module m) m.train(wasTraining);
        }
    }

    private static List<Tap> taps(List<FeatureMap> maps) {
        if (maps.isEmpty()) throw new IllegalArgumentException("the teacher returns no feature maps: configure its taps");
        List<Tap> taps = new ArrayList<>();
        for (FeatureMap m : maps) {
            Tensor f = m.tensor();
            if (f.dim() != 4) throw new IllegalArgumentException("tap '" + m.name() + "' is not (N, C, H, W)");
            for (Tap t : taps) if (t.name().equals(m.name())) throw new IllegalArgumentException("two taps are named '" + m.name() + "'");
            taps.add(new Tap(m.name(), (int) f.size(1), m.stride(), (int) f.size(2), (int) f.size(3)));
        }
        return taps;
    }

    private static ObjectNode identity(Mode mode, ObjectNode teacher, NoiseSchedule schedule, int timestep, long seed, Options o, int size,
            int c, int h, int w) {
        ObjectNode id = FeatureManifest.JSON.createObjectNode();
        id.put("mode", mode.key());
        id.set("teacher", teacher);
        id.putObject("schedule").put("name", schedule.name()).put("timesteps", schedule.timesteps());
        id.put("timestep", timestep);
        id.put("seed", seed);
        id.put("noise", "per image: FeatureStore.imageNoise(seed, index)");
        putLayout(id, o, size, c, h, w);
        return id;
    }

    /** The store's precision, size, chunking and image shape. */
    private static void putLayout(ObjectNode id, Options o, int size, int c, int h, int w) {
        id.put("precision", o.precision().dtypeName());
        id.put("size", size);
        id.put("chunkSize", o.chunkSize());
        id.put("batchSize", o.batchSize());
        id.putObject("image").put("channels", c).put("height", h).put("width", w);
    }

    /**
     * The teacher's class, config and a SHA-256 of its weights and buffers, so that a resume with a retrained
     * teacher of the same architecture is caught. Teachers that are not libtorch modules (TorchScript) have
     * no fingerprint here; then only their class and source identify them. A teacher that takes clean images
     * adds {@code "input": "clean"}, so that a resume cannot mix the two input contracts; absent means noised,
     * which keeps the identity of a noised encoding independent of this field.
     */
    private static ObjectNode teacherJson(Object model, FeatureTeacher teacher) {
        return teacherJson(model, teacher.inChannels(), teacher.input());
    }

    private static ObjectNode teacherJson(Object model, long inChannels, TeacherInput input) {
        ObjectNode n = FeatureManifest.JSON.createObjectNode();
        n.put("class", model.getClass().getName());
        if (model instanceof ConfiguredModule cm) {
            n.put("kind", cm.config().kind());
            n.set("config", ModelConfigs.toJson(cm.config()));
        }
        n.put("inChannels", inChannels);
        if (input != TeacherInput.NOISED) n.put("input", input.key());
        n.put("fingerprint", model instanceof Module m ? weightFingerprint(m) : "none");
        return n;
    }

    static String weightFingerprint(Module m) {
        MessageDigest md = FeatureManifest.sha256();
        try (PointerScope scope = new PointerScope()) {
            for (StringTensorDict dict : new StringTensorDict[] {m.named_parameters(true), m.named_buffers(true)}) {
                for (long i = 0; i < dict.size(); i++) {
                    String name = dict.get(i).key().getString();
                    Tensor t = dict.get(i).value().detach().cpu().contiguous();
                    md.update((name + ":" + t.scalar_type().intern() + ":" + java.util.Arrays.toString(t.sizes().vec().get()) + ";")
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    if (t.nbytes() > 0) {
                        BytePointer p = new BytePointer(t.data_ptr());
                        p.capacity(t.nbytes());
                        md.update(p.asBuffer());
                    }
                }
            }
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    /** A SHA-256 of the images' shape and values: resuming over another dataset of the same size is caught. */
    static String datasetFingerprint(ImageDataset data) {
        MessageDigest md = FeatureManifest.sha256();
        md.update((data.size() + "x" + data.channels() + "x" + data.height() + "x" + data.width() + (data.isFloat() ? ":f32" : ":u8"))
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        int per = data.valuesPerImage();
        if (data.isFloat()) {
            float[] f = new float[per];
            ByteBuffer b = ByteBuffer.allocate(4 * per).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < data.size(); i++) {
                data.copyImage(i, f, 0);
                b.clear();
                b.asFloatBuffer().put(f);
                md.update(b.array());
            }
        } else {
            byte[] bytes = new byte[per];
            for (int i = 0; i < data.size(); i++) {
                data.copyImageBytes(i, bytes, 0);
                md.update(bytes);
            }
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    private static String trailerCrc(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, ch.size() - 4);
            return HexFormat.of().toHexDigits(b.getInt(0));
        }
    }

    private static void deleteOurFiles(Path dir) throws IOException {
        deleteFiles(dir, OUR_FILES);
    }

    private static void deleteFiles(Path dir, Pattern names) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path p : files)
                if (names.matcher(p.getFileName().toString()).matches()) Files.deleteIfExists(p);
        }
    }

    private static void checkTimestep(int timestep, NoiseSchedule schedule) {
        if (timestep < 0 || timestep >= schedule.timesteps())
            throw new IllegalArgumentException("timestep " + timestep + " is outside the teacher's schedule [0, " + schedule.timesteps() + ")");
    }

    private static int[] range(int first, int count) {
        int[] r = new int[count];
        for (int j = 0; j < count; j++) r[j] = first + j;
        return r;
    }
}
