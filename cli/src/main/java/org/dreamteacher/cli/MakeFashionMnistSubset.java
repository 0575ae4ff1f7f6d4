package org.dreamteacher.cli;

import java.nio.file.Path;
import java.util.Arrays;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.data.SeededRandom;
import org.dreamteacher.data.Splits;

/**
 * Makes the embedded Fashion-MNIST subset: a balanced, seeded selection from the full set (default 600
 * training and 100 test images per class), written as gzip IDX files. The resource folder's README gives
 * the exact command that produced the shipped files.
 *
 * <pre>
 * java -cp cli/target/classes:$(cat cli/target/cp.txt) org.dreamteacher.cli.MakeFashionMnistSubset \
 *     SOURCE_DIR OUTPUT_DIR [TRAIN_PER_CLASS=600] [TEST_PER_CLASS=100] [SEED=20230714]
 * </pre>
 */
public final class MakeFashionMnistSubset {
    /** The seed of the shipped subset. */
    public static final long DEFAULT_SEED = 20230714L;

    private MakeFashionMnistSubset() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 5) {
            System.err.println("usage: MakeFashionMnistSubset SOURCE_DIR OUTPUT_DIR [TRAIN_PER_CLASS=600] [TEST_PER_CLASS=100] [SEED="
                    + DEFAULT_SEED + "]");
            System.exit(2);
        }
        Path source = Path.of(args[0]), output = Path.of(args[1]);
        int trainPerClass = args.length > 2 ? Integer.parseInt(args[2]) : 600;
        int testPerClass = args.length > 3 ? Integer.parseInt(args[3]) : 100;
        long seed = args.length > 4 ? Long.parseLong(args[4]) : DEFAULT_SEED;
        FashionMnist full = FashionMnist.load(source);
        for (FashionMnist.Split split : FashionMnist.Split.values()) {
            ImageDataset data = full.split(split);
            int perClass = split == FashionMnist.Split.TRAIN ? trainPerClass : testPerClass;
            int[] chosen = Splits.balancedSubsetPerClass(data.labels(), data.numClasses(), perClass, SeededRandom.mix(seed, split.ordinal()));
            ImageDataset subset = data.subset(chosen);
            FashionMnist.write(subset, output, split);
            System.out.println(split + ": " + subset.size() + " images, per class " + Arrays.toString(subset.countsPerClass()));
        }
    }
}
