package org.dreamteacher.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Fréchet distance against closed forms, and precision/recall on point sets with a known answer. */
class FrechetDistanceTest {
    @BeforeAll
    static void setUp() {
        EvalTests.setUp();
    }

    @AfterAll
    static void restore() {
        EvalTests.restore();
    }

    private static Tensor doubles(double[] values, long... shape) {
        Tensor t = torch.zeros(shape, new TensorOptions(ScalarType.Double));
        t.data_ptr_double().put(values);
        return t;
    }

    private static FrechetDistance.Statistics gaussian(double[] mean, double[] variances) {
        int d = mean.length;
        double[] cov = new double[d * d];
        for (int i = 0; i < d; i++) cov[i * d + i] = variances[i];
        return new FrechetDistance.Statistics(1000, d, mean, cov);
    }

    /**
     * For diagonal covariances the closed form is |mu_a - mu_b|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2:
     * here 1 + 4 + 0 + (1 - 2)^2 + (3 - 1)^2 + (0.5 - 0.5)^2 = 10.
     */
    @Test
    void diagonalGaussiansMatchTheClosedForm() {
        FrechetDistance.Statistics a = gaussian(new double[] {0, 0, 5}, new double[] {1, 9, 0.25});
        FrechetDistance.Statistics b = gaussian(new double[] {1, 2, 5}, new double[] {4, 1, 0.25});
        FrechetDistance.Result r = FrechetDistance.between(a, b);
        assertEquals(5.0, r.meanTerm(), 1e-12);
        assertEquals(5.0, r.traceTerm(), 1e-10);
        assertEquals(10.0, r.distance(), 1e-10);
        assertEquals(0, r.clampedEigenvalues());
        // Symmetric in its arguments.
        assertEquals(10.0, FrechetDistance.between(b, a).distance(), 1e-10);
    }

    /** A rotated covariance: FD is invariant to a rotation applied to both sets, so it equals the unrotated value. */
    @Test
    void rotationInvariant() {
        double c = Math.cos(0.7), s = Math.sin(0.7);
        double[] rot = {c, -s, s, c};
        try (PointerScope scope = new PointerScope()) {
            Tensor q = doubles(rot, 2, 2);
            Tensor sa = q.matmul(doubles(new double[] {4, 0, 0, 1}, 2, 2)).matmul(q.t()).contiguous();
            Tensor sb = q.matmul(doubles(new double[] {1, 0, 0, 9}, 2, 2)).matmul(q.t()).contiguous();
            double[] ca = new double[4], cb = new double[4];
            sa.data_ptr_double().get(ca);
            sb.data_ptr_double().get(cb);
            FrechetDistance.Result r = FrechetDistance.between(new FrechetDistance.Statistics(10, 2, new double[] {0, 0}, ca),
                    new FrechetDistance.Statistics(10, 2, new double[] {0, 0}, cb));
            // (2 - 1)^2 + (1 - 3)^2
            assertEquals(5.0, r.distance(), 1e-9);
        }
    }

    @Test
    void identicalSetsGiveZeroAndShiftedMeansGiveTheSquaredShift() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            // 40 samples in 64 dimensions: a singular covariance, whose zero eigenvalues rounding may push below 0.
            Tensor x = torch.randn(40, 64).to(ScalarType.Double);
            FrechetDistance.Result same = FrechetDistance.between(x, x);
            assertEquals(0.0, same.distance(), 1e-8, "identical sets");
            assertTrue(same.mostNegativeEigenvalue() <= 0 && same.mostNegativeEigenvalue() > -1e-8, "only rounding is clamped: " + same);

            Tensor shift = torch.zeros(new long[] {64}, new TensorOptions(ScalarType.Double));
            shift.narrow(0, 0, 1).fill_(new Scalar(3.0));
            shift.narrow(0, 5, 1).fill_(new Scalar(-4.0));
            FrechetDistance.Result shifted = FrechetDistance.between(x, x.add(shift));
            assertEquals(25.0, shifted.meanTerm(), 1e-9);
            // The singular covariance's zero eigenvalues come out as rounding noise (~1e-14), whose square roots
            // (~1e-7 each) enter the trace: measured 24.9999988.
            assertEquals(25.0, shifted.distance(), 1e-5, "a shift changes only the means: |d|^2");
            Tensor full = torch.randn(200, 16).to(ScalarType.Double);
            Tensor shift16 = shift.narrow(0, 0, 16);
            assertEquals(25.0, FrechetDistance.between(full, full.add(shift16)).distance(), 1e-9, "full-rank covariance");

            Tensor y = torch.randn(50, 64).to(ScalarType.Double).mul(new Scalar(2.0));
            double d = FrechetDistance.between(x, y).distance();
            Tensor order = torch.randperm(50);
            assertEquals(d, FrechetDistance.between(x, y.index_select(0, order)).distance(), 1e-9 * Math.max(1, d), "sample order");
            assertTrue(d > 10, "different scales are far apart: " + d);
        }
    }

    /** Float32 input gives the same statistics as its float64 copy: the computation is float64 throughout. */
    @Test
    void statisticsOfFloatFeatures() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = doubles(new double[] {1, 2, 3, 4, 5, 9}, 3, 2);
            FrechetDistance.Statistics s = FrechetDistance.statistics(x.to(ScalarType.Float));
            assertEquals(3, s.count());
            assertEquals(3.0, s.mean()[0], 1e-12);
            assertEquals(5.0, s.mean()[1], 1e-12);
            // columns (1, 3, 5) and (2, 4, 9): variances 4 and 13, covariance (-2*-3 + 0 + 2*4) / 2 = 7
            assertEquals(4.0, s.covariance()[0], 1e-6);
            assertEquals(7.0, s.covariance()[1], 1e-6);
            assertEquals(13.0, s.covariance()[3], 1e-6);
        }
    }

    @Test
    void badInputIsRefused() {
        try (PointerScope scope = new PointerScope()) {
            assertThrows(IllegalArgumentException.class, () -> FrechetDistance.statistics(torch.zeros(1, 4)));
            assertThrows(IllegalArgumentException.class, () -> FrechetDistance.statistics(torch.zeros(4)));
            assertThrows(IllegalArgumentException.class, () -> FrechetDistance.between(torch.randn(5, 3), torch.randn(5, 4)));
            Tensor nan = torch.randn(5, 3);
            nan.narrow(0, 0, 1).fill_(new Scalar(Double.NaN));
            assertThrows(IllegalArgumentException.class, () -> FrechetDistance.statistics(nan));
        }
    }

    /**
     * Real points 0..9 on a line, k = 3: every ball has radius 2 or 3. Generated points that copy them
     * give precision = recall = 1; ten far away points added halve the precision, and the real points stay
     * covered; far points alone give 0 and 0.
     */
    @Test
    void precisionRecallOnPointsOnALine() {
        try (PointerScope scope = new PointerScope()) {
            Tensor real = torch.arange(new Scalar(10)).to(ScalarType.Double).unsqueeze(1);
            Tensor far = real.add(new Scalar(100.0));
            Tensor radii = PrecisionRecall.radii(real, 3);
            double[] r = new double[10];
            radii.contiguous().data_ptr_double().get(r);
            assertEquals(3.0, r[0], 1e-12);
            assertEquals(2.0, r[1], 1e-12, "1: neighbours 0, 2, 3");
            assertEquals(2.0, r[5], 1e-12);

            PrecisionRecall.Result same = PrecisionRecall.of(real, real, 3);
            assertEquals(1.0, same.precision());
            assertEquals(1.0, same.recall());

            PrecisionRecall.Result half = PrecisionRecall.of(real, torch.cat(new org.bytedeco.pytorch.TensorVector(real, far), 0), 3);
            assertEquals(0.5, half.precision());
            assertEquals(1.0, half.recall());

            PrecisionRecall.Result none = PrecisionRecall.of(real, far, 3);
            assertEquals(0.0, none.precision());
            assertEquals(0.0, none.recall());

            // Generated points crowded on 0..2 (mode collapse): all look real, but they cover only the real points
            // within their small balls.
            Tensor collapsed = doubles(new double[] {0, 0.5, 1, 1.5, 2}, 5, 1);
            PrecisionRecall.Result c = PrecisionRecall.of(real, collapsed, 3);
            assertEquals(1.0, c.precision());
            // generated radii: 0 -> 1.5, 0.5 -> 1, 1 -> 1, 1.5 -> 1, 2 -> 1.5: real points 0..3 are covered
            assertEquals(0.4, c.recall(), 1e-12);

            assertThrows(IllegalArgumentException.class, () -> PrecisionRecall.of(real, real.narrow(0, 0, 3), 3));
            assertThrows(IllegalArgumentException.class, () -> PrecisionRecall.of(real, real, 0));
        }
    }
}
