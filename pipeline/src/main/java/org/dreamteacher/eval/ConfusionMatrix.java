package org.dreamteacher.eval;

import java.util.Arrays;
import org.bytedeco.pytorch.Tensor;
import org.dreamteacher.torch.CpuTensors;
import org.dreamteacher.torch.TorchRuntime;

/**
 * Pixel counts per (true class, predicted class), accumulated over a whole test set before any ratio is
 * taken: per-image IoUs averaged would weigh a class seen in a few pixels of one image as much as one seen
 * everywhere, which is not what segmentation benchmarks report.
 *
 * <p>IoU of class k = TP / (TP + FP + FN) = C[k][k] / (row k + column k − C[k][k]). A class that occurs neither
 * in the targets nor in the predictions has no IoU (NaN) and is left out of the mean, so a test set without
 * some class neither rewards nor punishes the model for it; a class that is predicted but never present
 * counts with IoU 0.
 */
public final class ConfusionMatrix {
    private final int k;
    private final long[] counts;

    /** An empty matrix for classes 0..numClasses-1. */
    public ConfusionMatrix(int numClasses) {
        if (numClasses < 1 || numClasses > 65536) throw new IllegalArgumentException("numClasses must be in 1..65536, got " + numClasses);
        this.k = numClasses;
        this.counts = new long[numClasses * numClasses];
    }

    /** A matrix from counts, {@code rows[target][predicted]}. */
    public static ConfusionMatrix of(long[][] rows) {
        ConfusionMatrix m = new ConfusionMatrix(rows.length);
        for (int t = 0; t < rows.length; t++) {
            if (rows[t].length != rows.length) throw new IllegalArgumentException("the matrix must be square: row " + t + " has " + rows[t].length + " entries");
            for (int p = 0; p < rows.length; p++) m.add(t, p, rows[t][p]);
        }
        return m;
    }

    public int numClasses() {
        return k;
    }

    /** Adds {@code count} pixels of true class {@code target} predicted as {@code predicted}. */
    public void add(int target, int predicted, long count) {
        check(target, "target");
        check(predicted, "prediction");
        if (count < 0) throw new IllegalArgumentException("count must be >= 0, got " + count);
        counts[target * k + predicted] += count;
    }

    /** Adds pairs of class indices (same length). */
    public void add(long[] targets, long[] predictions) {
        if (targets.length != predictions.length)
            throw new IllegalArgumentException(targets.length + " targets for " + predictions.length + " predictions");
        for (int i = 0; i < targets.length; i++) {
            long t = targets[i], p = predictions[i];
            if (t < 0 || t >= k || p < 0 || p >= k)
                throw new IllegalArgumentException("class pair (" + t + ", " + p + ") at " + i + " is outside 0.." + (k - 1));
        }
        for (int i = 0; i < targets.length; i++) counts[(int) targets[i] * k + (int) predictions[i]]++;
    }

    /** Adds integer tensors of class indices with the same number of elements (e.g. (N, H, W) label maps). */
    public void add(Tensor targets, Tensor predictions) {
        TorchRuntime.init();
        if (targets.numel() != predictions.numel())
            throw new IllegalArgumentException(targets.numel() + " targets for " + predictions.numel() + " predictions");
        add(CpuTensors.toLongs(targets), CpuTensors.toLongs(predictions));
    }

    /** Pixels of true class {@code target} predicted as {@code predicted}. */
    public long count(int target, int predicted) {
        check(target, "target");
        check(predicted, "prediction");
        return counts[target * k + predicted];
    }

    public long total() {
        long s = 0;
        for (long c : counts) s += c;
        return s;
    }

    /** IoU per class; NaN for a class absent from both targets and predictions. */
    public double[] iou() {
        double[] out = new double[k];
        for (int c = 0; c < k; c++) {
            long tp = counts[c * k + c], row = 0, col = 0;
            for (int j = 0; j < k; j++) {
                row += counts[c * k + j];
                col += counts[j * k + c];
            }
            long union = row + col - tp;
            out[c] = union == 0 ? Double.NaN : (double) tp / union;
        }
        return out;
    }

    /** Mean IoU over the classes present in targets or predictions; NaN for an empty matrix. */
    public double meanIoU() {
        double sum = 0;
        int n = 0;
        for (double v : iou()) {
            if (!Double.isNaN(v)) {
                sum += v;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** Share of pixels whose class is predicted correctly; NaN for an empty matrix. */
    public double pixelAccuracy() {
        long tp = 0;
        for (int c = 0; c < k; c++) tp += counts[c * k + c];
        long total = total();
        return total == 0 ? Double.NaN : (double) tp / total;
    }

    /** The counts, {@code [target][predicted]}. */
    public long[][] toArray() {
        long[][] out = new long[k][];
        for (int t = 0; t < k; t++) out[t] = Arrays.copyOfRange(counts, t * k, (t + 1) * k);
        return out;
    }

    private void check(int c, String what) {
        if (c < 0 || c >= k) throw new IllegalArgumentException(what + " class " + c + " is outside 0.." + (k - 1));
    }
}
