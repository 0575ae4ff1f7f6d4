package org.dreamteacher.parallel;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Averages gradients over the ranks in buckets, as PyTorch's DistributedDataParallel does: the parameters are
 * grouped, last layers first, into buckets of at most {@code bucketBytes}; each step every bucket's gradients are
 * copied into one flat float32 buffer and its all-reduce (sum) is started at once, without waiting, so that the
 * transfers of the buckets run in Gloo's threads while the next buckets are being packed; then each bucket is
 * awaited, divided by the world size and copied back into the gradients. A parameter without a gradient
 * contributes zeros and keeps no gradient (it must be unused on every rank alike).
 *
 * <p>Not thread-safe; the flat buffers live until {@link #close()}.
 */
public final class GradientBuckets implements AutoCloseable {
    private final ProcessGroupGloo group;
    private final int rank;
    private final int world;
    private final long timeoutMs;
    private final long[] sizes;
    private final List<int[]> members = new ArrayList<>();
    private final List<long[]> offsets = new ArrayList<>();
    private final List<Tensor> flats = new ArrayList<>();
    private final AllreduceOptions sum;
    private final Scalar worldScalar;
    private long steps;
    private long nanos;
    private long waitNanos;

    GradientBuckets(ProcessGroupGloo group, int rank, int world, long timeoutMs, TensorVector parameters, long bucketBytes) {
        this.group = group;
        this.rank = rank;
        this.world = world;
        this.timeoutMs = timeoutMs;
        int n = (int) parameters.size();
        sizes = new long[n];
        for (int i = 0; i < n; i++) {
            Tensor p = parameters.get(i);
            if (!p.is_floating_point() || p.scalar_type().intern() != ScalarType.Float)
                throw new IllegalArgumentException("parameter " + i + " is not float32: gradient buckets hold float32 only");
            sizes[i] = p.numel();
        }
        List<Integer> current = new ArrayList<>();
        long bytes = 0;
        for (int i = n - 1; i >= 0; i--) { // last layers first: their gradients are ready first
            if (!current.isEmpty() && bytes + 4 * sizes[i] > bucketBytes) {
                addBucket(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(i);
            bytes += 4 * sizes[i];
        }
        if (!current.isEmpty()) addBucket(current);
        sum = new AllreduceOptions();
        sum.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
        sum.timeout(new Milliseconds(timeoutMs));
        sum.retainReference(); // outlives the caller's PointerScope, released by close()
        worldScalar = new Scalar((double) world);
        worldScalar.retainReference();
    }

    private void addBucket(List<Integer> idx) {
        int[] m = idx.stream().mapToInt(Integer::intValue).toArray();
        long[] off = new long[m.length + 1];
        for (int j = 0; j < m.length; j++) off[j + 1] = off[j] + sizes[m[j]];
        Tensor flat = torch.zeros(new long[] {off[m.length]}, new TensorOptions(ScalarType.Float));
        flat.retainReference(); // lives as long as these buckets, not the caller's step: released by close()
        members.add(m);
        offsets.add(off);
        flats.add(flat);
    }

    /** Number of buckets (all-reduces per step). */
    public int buckets() {
        return flats.size();
    }

    /** Bytes all-reduced per step (every parameter's gradient, as float32). */
    public long bytesPerStep() {
        long b = 0;
        for (long s : sizes) b += 4 * s;
        return b;
    }

    /** Steps reduced so far. */
    public long steps() {
        return steps;
    }

    /** Seconds spent in {@link #reduce} so far: packing, all-reduces and unpacking. */
    public double seconds() {
        return nanos / 1e9;
    }

    /** Of {@link #seconds()}, the seconds spent waiting for all-reduces to complete. */
    public double waitSeconds() {
        return waitNanos / 1e9;
    }

    /** Whether {@code parameters} have the count and sizes these buckets were laid out for. */
    public boolean fits(TensorVector parameters) {
        if (parameters.size() != sizes.length) return false;
        for (int i = 0; i < sizes.length; i++)
            if (parameters.get(i).numel() != sizes[i]) return false;
        return true;
    }

    /** Replaces each parameter's gradient by its mean over the ranks; {@code parameters} as at construction. */
    public void reduce(TensorVector parameters) {
        if (parameters.size() != sizes.length)
            throw new IllegalArgumentException("expected " + sizes.length + " parameters, got " + parameters.size());
        long t0 = System.nanoTime();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor[] grads = new Tensor[sizes.length];
            Work[] works = new Work[flats.size()];
            for (int b = 0; b < flats.size(); b++) {
                int[] m = members.get(b);
                long[] off = offsets.get(b);
                Tensor flat = flats.get(b);
                for (int j = 0; j < m.length; j++) {
                    Tensor g = parameters.get(m[j]).grad();
                    if (g.defined() && g.numel() != sizes[m[j]])
                        throw new IllegalArgumentException("parameter " + m[j] + " changed size");
                    grads[m[j]] = g.defined() ? g : null;
                    Tensor slot = flat.narrow(0, off[j], sizes[m[j]]);
                    if (g.defined()) slot.copy_(g.reshape(-1));
                    else slot.zero_();
                }
                works[b] = group.allreduce(new TensorVector(flat), sum);
            }
            for (int b = 0; b < flats.size(); b++) {
                long w0 = System.nanoTime();
                await(works[b], "the gradient all-reduce of bucket " + b + " (step " + steps + ")");
                waitNanos += System.nanoTime() - w0;
                int[] m = members.get(b);
                long[] off = offsets.get(b);
                Tensor flat = flats.get(b);
                flat.div_(worldScalar);
                for (int j = 0; j < m.length; j++) {
                    Tensor g = grads[m[j]];
                    if (g != null) g.copy_(flat.narrow(0, off[j], sizes[m[j]]).view_as(g));
                }
            }
        }
        steps++;
        nanos += System.nanoTime() - t0;
    }

    void await(Work work, String what) {
        DistributedContext.await(work, rank, timeoutMs, what);
    }

    @Override
    public void close() {
        for (Tensor t : flats) t.releaseReference();
        flats.clear();
        sum.releaseReference();
        worldScalar.releaseReference();
    }
}
