package org.dreamteacher.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.data.Splits;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The embedded Fashion-MNIST subset against the tool that made it. */
class FashionMnistSubsetTest {
    /** The shipped subset is exactly what the README's command makes from the full set (when installed). */
    @Test
    void subsetMatchesTheFullSetSelection() throws IOException {
        Assumptions.assumeTrue(FashionMnist.isInstalled(FashionMnist.DEFAULT_DIR), "full Fashion-MNIST not installed");
        for (FashionMnist.Split split : FashionMnist.Split.values()) {
            ImageDataset full = FashionMnist.load(FashionMnist.DEFAULT_DIR, split);
            ImageDataset mine = FashionMnist.embeddedSubset().split(split);
            int perClass = split == FashionMnist.Split.TRAIN ? 600 : 100;
            int[] chosen = Splits.balancedSubsetPerClass(full.labels(), 10, perClass,
                    SeededRandom.mix(MakeFashionMnistSubset.DEFAULT_SEED, split.ordinal()));
            ImageDataset expected = full.subset(chosen);
            byte[] x = new byte[784], y = new byte[784];
            for (int i = 0; i < mine.size(); i++) {
                expected.copyImageBytes(i, x, 0);
                mine.copyImageBytes(i, y, 0);
                assertArrayEquals(x, y, "image " + i);
                assertEquals(expected.label(i), mine.label(i));
            }
        }
    }
}
