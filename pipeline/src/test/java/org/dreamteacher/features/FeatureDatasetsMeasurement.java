package org.dreamteacher.features;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.diffusion.NoiseSchedule;
import org.dreamteacher.diffusion.UNet;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.features.FeatureStore.Precision;
import org.dreamteacher.nn.FeatureMap;
import org.dreamteacher.nn.ResNet;
import org.dreamteacher.nn.ResNetConfig;
import org.dreamteacher.torch.TensorFile;
import org.dreamteacher.torch.TorchRuntime;
import org.dreamteacher.train.Progress;

/**
 * Online encoding against reading stored features, per image, for the shipped teacher architecture on the
 * 1,000 embedded Fashion-MNIST test images at batch 32 (shuffled batches, as distillation asks for them). Not
 * a JUnit test: run it by hand (command in benchmarks/results/feature-datasets.md). Timings are wall clock,
 * medians over passes; the weights are freshly initialised (the cost of a forward does not depend on them).
 * Arguments: number of passes (default 3), libtorch threads (default: libtorch's own choice).
 */
public final class FeatureDatasetsMeasurement {
    private static final int BATCH = 32, T = 50, CHUNK = 256;
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    public static void main(String[] args) throws IOException {
        TorchRuntime.init();
        Progress.setEnabled(false);
        int passes = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        if (args.length > 1) torch.set_num_threads(Integer.parseInt(args[1]));
        Path work = Files.createTempDirectory("feature-datasets");
        UNetConfig config = UNetConfig.of(1, 28, 32, List.of(1, 2, 2)).withNumResBlocks(1).withAttention(List.of(7), 4, true)
                .withTaps(List.of(0, 2, 4));
        torch.manual_seed(0);
        UNet teacher = config.build();
        NoiseSchedule schedule = NoiseSchedule.linear(1000);
        ImageDataset data = FashionMnist.embeddedSubset().test();
        int n = data.size();
        System.out.printf("teacher %s%nimages %d, batch %d, t = %d, chunk %d, libtorch threads %d%n", config, n, BATCH, T, CHUNK,
                torch.get_num_threads());
        List<int[]> batches = shuffledBatches(n, 1);

        // online: one teacher forward per batch, as the training loop does now
        teacher.eval();
        timeBatches("warm-up", batches.subList(0, 2), 1, (b, step) -> GaussianDiffusion.encode(teacher, schedule, data.toTensor(b), T, new Noise(step)));
        double[] online = perImage(timeBatches("online encode", batches, passes,
                (b, step) -> GaussianDiffusion.encode(teacher, schedule, data.toTensor(b), T, new Noise(step))), n);

        Map<String, double[]> results = new LinkedHashMap<>();
        results.put("online encoding", online);
        for (Precision p : Precision.values()) {
            Path dir = work.resolve(p.dtypeName());
            long t0 = System.nanoTime(), c0 = THREADS.getCurrentThreadCpuTime();
            FeatureStore.Summary s = FeatureStore.encode(teacher, schedule, data, T, 0, dir, CHUNK, p, false);
            double encodeMs = (System.nanoTime() - t0) / 1e6, encodeCpu = (THREADS.getCurrentThreadCpuTime() - c0) / 1e6;
            System.out.printf("%s: encoding to disk wall %.0f ms (%.2f ms/image), thread CPU %.0f ms (%.2f ms/image); %d bytes = %.1f KB/image%n",
                    p.dtypeName(), encodeMs, encodeMs / n, encodeCpu, encodeCpu / n, s.bytes(), s.bytes() / 1024.0 / n);
            t0 = System.nanoTime();
            try (FeatureStore store = FeatureStore.open(dir)) {
                System.out.printf("%s: open with full checksum %.1f ms%n", p.dtypeName(), (System.nanoTime() - t0) / 1e6);
                timeBatches("warm-up", batches.subList(0, 2), 1, (b, step) -> store.features(b));
                results.put("mapped store, " + p.dtypeName(), perImage(timeBatches("mapped read " + p.dtypeName(), batches, passes,
                        (b, step) -> store.features(b)), n));
            }
            FeatureManifest m = FeatureManifest.read(dir);
            results.put("TensorFile.read per batch, " + p.dtypeName(), perImage(timeBatches("TensorFile.read of the batch's chunks " + p.dtypeName(),
                    batches, 1, (b, step) -> readWithTensorFile(dir, m, b)), n));
            t0 = System.nanoTime();
            List<Tensor> all = loadAll(dir, m);
            System.out.printf("%s: TensorFile load of the whole store into float32 memory %.0f ms%n", p.dtypeName(), (System.nanoTime() - t0) / 1e6);
            results.put("whole store in memory (float32), from " + p.dtypeName(), perImage(timeBatches("in-memory gather " + p.dtypeName(), batches, passes, (b, step) -> {
                Tensor idx = longs(b);
                List<FeatureMap> out = new ArrayList<>();
                for (Tensor t : all) out.add(new FeatureMap("f", t.index_select(0, idx), 1));
                return out;
            }), n));
        }
        // for scale: what a student step costs per image (ResNet-18, small stem, width 32, forward + backward of
        // its four levels; the regressor and the loss come on top), on 10 batches
        torch.manual_seed(0);
        try (ResNet student = (ResNet) ResNetConfig.small(18, 32, 1, 0).build()) {
            student.train(true);
            double[] step = perImage(timeBatches("student fwd+bwd (ResNet-18/32)", batches.subList(0, 10), 1, (b, i) -> {
                List<FeatureMap> f = student.features(data.toTensor(b));
                Tensor loss = f.get(0).tensor().pow(new org.bytedeco.pytorch.Scalar(2)).mean();
                for (int k = 1; k < f.size(); k++) loss = loss.add(f.get(k).tensor().pow(new org.bytedeco.pytorch.Scalar(2)).mean());
                loss.backward();
                return f;
            }), 10 * BATCH);
            System.out.printf("student step: wall %.2f ms/image, thread CPU %.2f ms/image%n", step[0], step[1]);
        }
        System.out.println();
        System.out.println("| features from | wall ms/image | thread CPU ms/image | online / this (CPU) |");
        System.out.println("|---|---|---|---|");
        for (Map.Entry<String, double[]> e : results.entrySet())
            System.out.printf("| %s | %.4f | %.4f | %.0f |%n", e.getKey(), e.getValue()[0], e.getValue()[1], online[1] / e.getValue()[1]);
        teacher.close();
        try (var files = Files.walk(work)) {
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }

    private interface BatchFn {
        List<FeatureMap> run(int[] batch, long step);
    }

    /**
     * Median over passes of the total time of all batches, in ms: wall clock and this thread's CPU time. With
     * one libtorch thread the work runs on the calling thread, so its CPU time is the cost of the work even
     * when other processes share the cores (the wall clock then also counts waiting for a core).
     */
    private static double[] timeBatches(String what, List<int[]> batches, int passes, BatchFn fn) {
        double[] wall = new double[passes], cpu = new double[passes];
        for (int p = 0; p < passes; p++) {
            long t0 = System.nanoTime(), c0 = THREADS.getCurrentThreadCpuTime();
            long step = 0;
            for (int[] b : batches) {
                try (PointerScope scope = new PointerScope()) {
                    List<FeatureMap> maps = fn.run(b, step++);
                    if (maps.get(0).tensor().size(0) != b.length) throw new IllegalStateException("wrong batch");
                }
            }
            wall[p] = (System.nanoTime() - t0) / 1e6;
            cpu[p] = (THREADS.getCurrentThreadCpuTime() - c0) / 1e6;
        }
        double[] result = {median(wall), median(cpu)};
        System.out.printf("%-45s wall %s ms, median %.1f; thread CPU median %.1f ms%n", what,
                Arrays.toString(Arrays.stream(wall).map(Math::rint).toArray()), result[0], result[1]);
        return result;
    }

    private static double median(double[] v) {
        double[] sorted = v.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    /** The alternative to mapping: read each chunk the batch touches with TensorFile.read, take its rows. */
    private static List<FeatureMap> readWithTensorFile(Path dir, FeatureManifest m, int[] batch) {
        List<FeatureManifest.Tap> taps = m.taps();
        List<List<Tensor>> parts = new ArrayList<>();
        for (int i = 0; i < taps.size(); i++) parts.add(new ArrayList<>());
        List<Integer> order = new ArrayList<>();
        for (int k = 0; k < m.chunkCount(); k++) {
            List<Long> rows = new ArrayList<>();
            for (int j = 0; j < batch.length; j++)
                if (batch[j] / m.chunkSize() == k) {
                    rows.add((long) (batch[j] - k * m.chunkSize()));
                    order.add(j);
                }
            if (rows.isEmpty()) continue;
            TensorFile.Contents c;
            try {
                c = TensorFile.read(dir.resolve(FeatureManifest.chunkFileName(k)));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            Tensor r = longs(rows.stream().mapToLong(Long::longValue).toArray());
            for (int i = 0; i < taps.size(); i++)
                parts.get(i).add(c.tensors().get("features/" + taps.get(i).name()).index_select(0, r).to(ScalarType.Float));
        }
        long[] inverse = new long[batch.length];
        for (int pos = 0; pos < order.size(); pos++) inverse[order.get(pos)] = pos;
        Tensor inv = longs(inverse);
        List<FeatureMap> out = new ArrayList<>();
        for (int i = 0; i < taps.size(); i++)
            out.add(new FeatureMap(taps.get(i).name(), torch.cat(new org.bytedeco.pytorch.TensorVector(parts.get(i).toArray(new Tensor[0])), 0)
                    .index_select(0, inv), taps.get(i).stride()));
        return out;
    }

    private static List<Tensor> loadAll(Path dir, FeatureManifest m) throws IOException {
        List<List<Tensor>> parts = new ArrayList<>();
        for (int i = 0; i < m.taps().size(); i++) parts.add(new ArrayList<>());
        for (int k = 0; k < m.chunkCount(); k++) {
            TensorFile.Contents c = TensorFile.read(dir.resolve(FeatureManifest.chunkFileName(k)));
            for (int i = 0; i < m.taps().size(); i++) parts.get(i).add(c.tensors().get("features/" + m.taps().get(i).name()).to(ScalarType.Float));
        }
        List<Tensor> all = new ArrayList<>();
        for (List<Tensor> p : parts) all.add(torch.cat(new org.bytedeco.pytorch.TensorVector(p.toArray(new Tensor[0])), 0));
        return all;
    }

    private static List<int[]> shuffledBatches(int n, long seed) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        new SeededRandom(seed).shuffle(order);
        List<int[]> out = new ArrayList<>();
        for (int from = 0; from < n; from += BATCH) out.add(Arrays.copyOfRange(order, from, Math.min(n, from + BATCH)));
        return out;
    }

    private static double[] perImage(double[] ms, int n) {
        return new double[] {ms[0] / n, ms[1] / n};
    }

    private static Tensor longs(int[] v) {
        return longs(Arrays.stream(v).asLongStream().toArray());
    }

    private static Tensor longs(long[] v) {
        return org.dreamteacher.torch.CpuTensors.longs(v);
    }
}
