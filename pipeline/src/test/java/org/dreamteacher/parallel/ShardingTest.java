package org.dreamteacher.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.data.Augmentation;
import org.dreamteacher.data.Batches;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.torch.TorchRuntime;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The ranks' shards of a step put together are exactly the global batch: rows, flips and diffusion noise. */
class ShardingTest {
    @BeforeAll
    static void init() {
        TorchRuntime.init();
    }

    private static ImageDataset data() {
        int n = 40, c = 1, h = 4, w = 5;
        float[] px = new float[n * c * h * w];
        for (int i = 0; i < px.length; i++) px[i] = ((i * 37) % 101) / 101f;
        return ImageDataset.ofFloats(px, n, c, h, w, null, 0, null);
    }

    private static Batches global() {
        return Batches.of(data()).batchSize(12).seed(7).dropLast(true).augmentation(Augmentation.flip()).build();
    }

    @Test
    void shardsOfEveryStepMakeTheGlobalBatch() {
        Batches g = global();
        for (int world : new int[] {2, 3, 4}) {
            Batches[] shards = new Batches[world];
            for (int r = 0; r < world; r++) shards[r] = g.shard(r, world);
            for (int epoch = 0; epoch < 2; epoch++) {
                for (int step = 0; step < g.stepsPerEpoch(); step++) {
                    try (PointerScope scope = new PointerScope()) {
                        Batches.Batch all = g.batch(epoch, step);
                        TensorVector parts = new TensorVector();
                        int[] idx = new int[0];
                        for (int r = 0; r < world; r++) {
                            Batches.Batch b = shards[r].batch(epoch, step);
                            assertEquals(12 / world, b.indices().length);
                            assertEquals(r * 12 / world, b.offset());
                            assertEquals(12, b.globalSize());
                            parts.push_back(b.images());
                            idx = java.util.stream.IntStream.concat(java.util.Arrays.stream(idx), java.util.Arrays.stream(b.indices())).toArray();
                        }
                        assertArrayEquals(all.indices(), idx);
                        assertTrue(torch.equal(all.images(), torch.cat(parts)), "world " + world + ", epoch " + epoch + ", step " + step);
                    }
                }
            }
        }
    }

    @Test
    void unequalSharesAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> global().shard(0, 5));
        assertTrue(e.getMessage().contains("not divisible"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Batches.of(data()).batchSize(12).dropLast(false).build().shard(0, 2));
        assertThrows(IllegalArgumentException.class, () -> global().shard(2, 2));
    }

    @Test
    void rowNoiseIsTheGlobalNoiseOfThoseRows() {
        try (PointerScope scope = new PointerScope()) {
            Noise all = new Noise(99);
            Tensor t = all.uniformInts(12, 1000), eps = all.normal(12, 1, 4, 5);
            for (int offset = 0; offset < 12; offset += 4) {
                Noise part = Noise.rows(99, offset, 12);
                assertTrue(torch.equal(t.narrow(0, offset, 4), part.uniformInts(4, 1000)));
                assertTrue(torch.equal(eps.narrow(0, offset, 4), part.normal(4, 1, 4, 5)));
            }
            Noise whole = Noise.rows(99, 0, 12);
            assertTrue(torch.equal(t, whole.uniformInts(12, 1000)));
            assertTrue(torch.equal(eps, whole.normal(12, 1, 4, 5)));
        }
    }

    @Test
    void optionsFollowTorchrunsEnvironment() {
        DistributedOptions o = DistributedOptions.resolve(Map.of("WORLD_SIZE", "4", "RANK", "2", "MASTER_ADDR", "10.1.2.3", "MASTER_PORT", "1234"),
                null, null, null, null, null);
        assertEquals(4, o.worldSize());
        assertEquals(2, o.rank());
        assertEquals("10.1.2.3", o.masterAddr());
        assertEquals(1234, o.masterPort());
        DistributedOptions flags = DistributedOptions.resolve(Map.of("WORLD_SIZE", "4", "RANK", "2"), 2, 1, "127.0.0.1", 2000, Duration.ofSeconds(5));
        assertEquals(2, flags.worldSize());
        assertEquals(1, flags.rank());
        assertEquals(Duration.ofSeconds(5), flags.timeout());
        assertEquals(1, DistributedOptions.resolve(Map.of(), null, null, null, null, null).worldSize());
        assertThrows(IllegalArgumentException.class, () -> DistributedOptions.resolve(Map.of("WORLD_SIZE", "2", "RANK", "2"), null, null, null, null, null));
        assertThrows(IllegalArgumentException.class, () -> DistributedOptions.resolve(Map.of("RANK", "x"), null, null, null, null, null));
    }
}
