package org.dreamteacher.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.data.FashionMnist;
import org.dreamteacher.data.ImageDataset;
import org.dreamteacher.nn.Backbone;
import org.dreamteacher.nn.ConfiguredModule;
import org.dreamteacher.nn.ResNetConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ClassifierTest {
    @BeforeAll
    static void setUp() {
        EvalTests.setUp();
    }

    @AfterAll
    static void restore() {
        EvalTests.restore();
    }

    /** The scored test images: balanced, the same on every call, and the whole split when asked for as many or more. */
    @Test
    void testSubsetIsBalancedAndFixed() {
        ImageDataset test = EvalTests.fashion().test();
        ImageDataset a = Classifier.testSubset(test, 50), b = Classifier.testSubset(test, 59);
        assertEquals(50, a.size());
        int[] perClass = new int[test.numClasses()];
        for (int y : a.labels()) perClass[y]++;
        for (int c : perClass) assertEquals(5, c);
        org.junit.jupiter.api.Assertions.assertArrayEquals(a.labels(), b.labels(), "59 images give 5 per class, as 50 do");
        assertEquals(a.fingerprint(), b.fingerprint());
        assertEquals(test, Classifier.testSubset(test, test.size()));
        assertEquals(test, Classifier.testSubset(test, test.size() + 1));
        assertEquals(test.numClasses(), Classifier.testSubset(test, 3).size(), "at least one image per class");
    }

    /** 60 fine-tuning steps on 1,000 labelled images reached 72-75% here (2 seeds, 1 and 2 threads); chance is 10%. */
    @Test
    void fineTuningLearnsWellAboveChance() throws Exception {
        FashionMnist fm = EvalTests.fashion();
        Classifier.Settings s = Classifier.Settings.defaults(Mode.FINE_TUNE).withLabelFraction(1.0 / 6).withSteps(60).withBatchSize(32)
                .withLr(3e-3).withSeed(1);
        try (ConfiguredModule m = BackboneSource.randomInit(EvalTests.smallResNet()).open(1)) {
            Classifier.Result r = Classifier.run(m, fm.train(), fm.test(), s);
            if (Boolean.getBoolean("dt.evalTests.verbose")) System.out.println("fine-tune: " + r);
            assertEquals(1000, r.trainSamples());
            assertEquals(fm.test().size(), r.testSamples());
            assertEquals(60, r.steps());
            assertTrue(r.accuracy() > 0.5 && r.accuracy() <= 1, "accuracy " + r.accuracy());
            assertTrue(r.finalLoss() < 1.5, "final loss " + r.finalLoss() + " (ln 10 = 2.30 at chance)");
            assertEquals(10, ((Backbone) m).numClasses(), "the head was reset to the data's classes");
            assertFalse(m.is_training(), "left in eval mode");
            assertEquals(r.accuracy(), Classifier.accuracy(m, fm.test(), 100), 1e-12, "the trained module scores the same again");
        }
    }

    /**
     * The probe must not move a single weight or BatchNorm statistic of the backbone, and its solver converges well
     * before the 300-iteration cap; on random-init features it still learns (chance: 10%).
     */
    @Test
    void linearProbeLeavesTheBackboneUntouchedAndLearns() throws Exception {
        FashionMnist fm = EvalTests.fashion();
        ImageDataset test = EvalTests.testSubset(50);
        Classifier.Settings s = Classifier.Settings.defaults(Mode.LINEAR_PROBE).withLabelFraction(1.0 / 6).withSteps(300).withBatchSize(32)
                .withSeed(2);
        try (ConfiguredModule m = BackboneSource.randomInit(EvalTests.smallResNet().withNumClasses(10)).open(2)) {
            m.train(true);
            Map<String, Tensor> before = EvalTests.snapshot(m);
            assertTrue(before.keySet().stream().anyMatch(k -> k.endsWith("running_mean")), "buffers are compared too");
            Classifier.Result r = Classifier.run(m, fm.train(), test, s);
            if (Boolean.getBoolean("dt.evalTests.verbose")) System.out.println("probe: " + r);
            assertEquals(List.of(), EvalTests.changed(before, EvalTests.snapshot(m)));
            assertEquals(500, r.testSamples());
            assertTrue(r.steps() < 300, "the probe's solver used all " + r.steps() + " iterations");
            assertEquals(r.trainSamples(), r.batchSize(), "the probe is full-batch");
            assertTrue(r.accuracy() > 0.4 && r.accuracy() <= 1, "accuracy " + r.accuracy());
            assertTrue(r.finalLoss() < 1.8, "final loss " + r.finalLoss());
        }
    }

    @Test
    void sameSeedSameResultOtherSeedOtherResult() throws Exception {
        FashionMnist fm = EvalTests.fashion();
        ImageDataset test = EvalTests.testSubset(20);
        BackboneSource random = BackboneSource.randomInit(EvalTests.smallResNet());
        for (Mode mode : Mode.values()) {
            Classifier.Settings s = Classifier.Settings.defaults(mode).withLabelFraction(0.05).withSteps(6).withBatchSize(16).withSeed(5);
            Classifier.Result a = Classifier.run(random, fm.train(), test, s);
            Classifier.Result b = Classifier.run(random, fm.train(), test, s);
            Classifier.Result c = Classifier.run(random, fm.train(), test, s.withSeed(6));
            assertEquals(300, a.trainSamples(), "5% of 6,000 labels, balanced: 30 per class");
            assertEquals(a.accuracy(), b.accuracy(), 0.0, mode + ": same seed, same accuracy");
            assertEquals(a.finalLoss(), b.finalLoss(), 0.0, mode + ": same seed, same loss");
            assertNotEquals(a.finalLoss(), c.finalLoss(), mode + ": the seed must matter");
            assertTrue(a.accuracy() >= 0 && a.accuracy() <= 1);
        }
    }

    @Test
    void epochsSetTheStepCount() throws Exception {
        FashionMnist fm = EvalTests.fashion();
        Classifier.Settings s = Classifier.Settings.defaults(Mode.FINE_TUNE).withLabelFraction(0.01).withEpochs(3).withBatchSize(25);
        Classifier.Result r = Classifier.run(BackboneSource.randomInit(EvalTests.cheapResNet()), fm.train(), EvalTests.testSubset(5), s);
        assertEquals(60, r.trainSamples());
        assertEquals(25, r.batchSize());
        assertEquals(3 * (60 / 25), r.steps(), "partial batches are dropped");
    }

    @Test
    void rejectsMismatchedDataAndSettings() throws Exception {
        FashionMnist fm = EvalTests.fashion();
        Classifier.Settings s = Classifier.Settings.defaults(Mode.FINE_TUNE).withSteps(1);
        ImageDataset unlabelled = ImageDataset.ofBytes(new byte[2 * 28 * 28], 2, 1, 28, 28);
        try (ConfiguredModule m = EvalTests.cheapResNet().build(); ConfiguredModule rgb = new ResNetConfig(18, 16, 3, 0, false).build()) {
            assertThrows(IllegalArgumentException.class, () -> Classifier.run(m, unlabelled, fm.test(), s));
            assertThrows(IllegalArgumentException.class, () -> Classifier.run(rgb, fm.train(), fm.test(), s));
        }
        assertThrows(IllegalArgumentException.class, () -> s.withLabelFraction(0));
        assertThrows(IllegalArgumentException.class, () -> s.withLabelFraction(1.5));
        assertThrows(IllegalArgumentException.class, () -> s.withSteps(0));
        assertThrows(IllegalArgumentException.class, () -> s.withLr(Double.NaN));
        assertEquals(Mode.LINEAR_PROBE, Mode.parse("probe"));
        assertEquals(Mode.FINE_TUNE, Mode.parse("FINE_TUNE"));
    }
}
