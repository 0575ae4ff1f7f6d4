package org.dreamteacher.parallel;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorBase;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.VoidTensorHook;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.CpuTensors;

/**
 * Averages gradients over the ranks in buckets, as PyTorch's DistributedDataParallel does: the parameters are
 * grouped, last layers first, into buckets of at most {@code bucketBytes} (the first, as in DDP, of at most
 * {@link #FIRST_BUCKET_BYTES}, so that communication starts early in the backward pass). Each bucket's gradients
 * are copied into one flat float32 buffer, all-reduced (sum) in Gloo's threads, divided by the world size and
 * copied back into the gradients.
 *
 * <p>From the second step on the buckets overlap with the backward pass: an autograd hook on every parameter
 * copies its gradient into its bucket as soon as autograd computes it, and a bucket whose gradients are all in
 * starts its all-reduce at once, while backward goes on with the earlier layers. Buckets start strictly in
 * index order, the same on every rank, because Gloo matches the ranks' collectives by their order; so, as DDP
 * does, the buckets are laid out again after the first step with hooks, in the order that backward produced
 * the gradients (see {@link #rebuildByArrival}). The
 * hooks see a parameter's whole gradient only if it had none before backward, so the gradients must be
 * cleared to none before each backward ({@code optimizer.zero_grad()}, as every training loop here does);
 * {@link #reduce} fails if they were not. The first step, before the hooks exist, packs every bucket after
 * backward. A parameter without a gradient contributes zeros and keeps no gradient (it must be unused on every
 * rank alike).
 *
 * <p>Not thread-safe (the hooks run in the thread that calls backward, as CPU autograd does); the flat buffers
 * and hooks live until {@link #close()}.
 */
public final class GradientBuckets implements AutoCloseable {
    /** DDP's cap of the first bucket: the last layers' gradients, ready first, go out without waiting for more. */
    public static final long FIRST_BUCKET_BYTES = 1L << 20;

    private final ProcessGroupGloo group;
    private final int rank;
    private final int world;
    private final long timeoutMs;
    private final long[] sizes;
    private final int[] bucketOf;
    private final int[] slotOf;
    private final long bucketBytes;
    private final List<int[]> members = new ArrayList<>();
    private final List<long[]> offsets = new ArrayList<>();
    private final List<Tensor> flats = new ArrayList<>();
    private final List<Integer> arrivals = new ArrayList<>();
    private boolean rebuilt;
    private final AllreduceOptions sum;
    private final Scalar worldScalar;
    private final List<Tensor> hooked = new ArrayList<>();
    private final List<VoidTensorHook> hooks = new ArrayList<>();
    private final int[] hookIds;
    // the state of one backward pass under hooks
    private final boolean[] packed;
    private int[] pending;
    private Work[] works;
    private TensorVector[] inputs;
    private int launched;
    private String hookError;
    private long steps;
    private long nanos;
    private long waitNanos;
    private long overlapped;
    private long allReduces;

    GradientBuckets(ProcessGroupGloo group, int rank, int world, long timeoutMs, TensorVector parameters, long bucketBytes) {
        this.group = group;
        this.rank = rank;
        this.world = world;
        this.timeoutMs = timeoutMs;
        int n = (int) parameters.size();
        sizes = new long[n];
        bucketOf = new int[n];
        slotOf = new int[n];
        for (int i = 0; i < n; i++) {
            Tensor p = parameters.get(i);
            if (!p.is_floating_point() || p.scalar_type().intern() != ScalarType.Float)
                throw new IllegalArgumentException("parameter " + i + " is not float32: gradient buckets hold float32 only");
            sizes[i] = p.numel();
        }
        this.bucketBytes = bucketBytes;
        int[] lastFirst = new int[n];
        for (int i = 0; i < n; i++) lastFirst[i] = n - 1 - i; // last layers first: their gradients are ready first
        layout(lastFirst);
        sum = new AllreduceOptions();
        sum.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
        sum.timeout(new Milliseconds(timeoutMs));
        sum.retainReference(); // outlives the caller's PointerScope, released by close()
        worldScalar = new Scalar((double) world);
        worldScalar.retainReference();
        packed = new boolean[n];
        hookIds = new int[n];
        resetPass();
    }

    /** Groups the parameters into buckets, taking them in {@code order}; frees an earlier layout. */
    private void layout(int[] order) {
        for (Tensor t : flats) t.releaseReference();
        flats.clear();
        members.clear();
        offsets.clear();
        List<Integer> current = new ArrayList<>();
        long bytes = 0;
        for (int i : order) {
            long cap = flats.isEmpty() ? Math.min(bucketBytes, FIRST_BUCKET_BYTES) : bucketBytes;
            if (!current.isEmpty() && bytes + 4 * sizes[i] > cap) {
                addBucket(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(i);
            bytes += 4 * sizes[i];
        }
        if (!current.isEmpty()) addBucket(current);
        pending = new int[flats.size()];
        works = new Work[flats.size()];
        inputs = new TensorVector[flats.size()];
    }

    /**
     * After the first step with hooks, as DDP's bucket rebuilding: lays the buckets out again in the order in which
     * that backward produced the gradients (unused parameters last), rank 0's order on every rank, so that each
     * bucket fills in one stretch of backward and none waits for a gradient that comes late or never.
     */
    private void rebuildByArrival() {
        int n = sizes.length;
        long[] order = new long[n];
        boolean[] seen = new boolean[n];
        int k = 0;
        for (int i : arrivals) {
            order[k++] = i;
            seen[i] = true;
        }
        for (int i = n - 1; i >= 0; i--) if (!seen[i]) order[k++] = i;
        try (PointerScope scope = new PointerScope()) {
            Tensor t = CpuTensors.longs(order);
            BroadcastOptions root = new BroadcastOptions();
            root.rootRank(0);
            root.timeout(new Milliseconds(timeoutMs));
            await(group.broadcast(new TensorVector(t), root), "receiving rank 0's bucket order");
            t.data_ptr_long().get(order);
        }
        int[] o = new int[n];
        boolean[] check = new boolean[n];
        for (int i = 0; i < n; i++) {
            o[i] = (int) order[i];
            if (o[i] < 0 || o[i] >= n || check[o[i]]) throw new IllegalStateException("rank 0's bucket order is not a permutation of the " + n + " parameters");
            check[o[i]] = true;
        }
        layout(o);
        resetPass();
    }

    private void addBucket(List<Integer> idx) {
        int[] m = idx.stream().mapToInt(Integer::intValue).toArray();
        long[] off = new long[m.length + 1];
        for (int j = 0; j < m.length; j++) {
            off[j + 1] = off[j] + sizes[m[j]];
            bucketOf[m[j]] = flats.size();
            slotOf[m[j]] = j;
        }
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

    /** Seconds spent packing, all-reducing and unpacking gradients so far, in the hooks and in {@link #reduce}. */
    public double seconds() {
        return nanos / 1e9;
    }

    /** Of {@link #seconds()}, the seconds spent waiting for all-reduces to complete. */
    public double waitSeconds() {
        return waitNanos / 1e9;
    }

    /** Bucket all-reduces so far. */
    public long allReduces() {
        return allReduces;
    }

    /** Of {@link #allReduces()}, those that started during backward, overlapping with it (the others started after it). */
    public long overlappedAllReduces() {
        return overlapped;
    }

    /** Whether {@code parameters} have the count and sizes these buckets were laid out for. */
    public boolean fits(TensorVector parameters) {
        if (parameters.size() != sizes.length) return false;
        for (int i = 0; i < sizes.length; i++) {
            if (parameters.get(i).numel() != sizes[i]) return false;
            // the same parameters, not others of the same sizes (the hooks are on these)
            if (i < hooked.size() && hooked.get(i) != null && !hooked.get(i).is_same(parameters.get(i))) return false;
        }
        return true;
    }

    /**
     * Replaces each parameter's gradient by its mean over the ranks; {@code parameters} as at construction. Call
     * it after every backward through them, on every rank.
     */
    public void reduce(TensorVector parameters) {
        if (parameters.size() != sizes.length)
            throw new IllegalArgumentException("expected " + sizes.length + " parameters, got " + parameters.size());
        long t0 = System.nanoTime();
        boolean hooksOn = !hooks.isEmpty();
        final int launchedInBackward = launched; // by the hooks, before this call
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            for (int i = 0; i < sizes.length; i++) {
                if (packed[i]) continue;
                Tensor g = parameters.get(i).grad();
                if (hooksOn && g.defined() && hookError == null)
                    hookError = "parameter " + i + " has a gradient that its hook did not see: it was not part of this backward's graph";
                pack(i, hooksOn ? null : g);
            }
            launchReady();
            for (int b = 0; b < flats.size(); b++) {
                long w0 = System.nanoTime();
                try {
                    await(works[b], "the gradient all-reduce of bucket " + b + " (step " + steps + ")");
                } finally {
                    waitNanos += System.nanoTime() - w0;
                }
                int[] m = members.get(b);
                long[] off = offsets.get(b);
                Tensor flat = flats.get(b);
                flat.div_(worldScalar);
                for (int j = 0; j < m.length; j++) {
                    Tensor g = parameters.get(m[j]).grad();
                    if (g.defined()) g.copy_(flat.narrow(0, off[j], sizes[m[j]]).view_as(g));
                }
            }
        } finally {
            overlapped += launchedInBackward;
            resetPass();
            nanos += System.nanoTime() - t0;
        }
        steps++;
        String error = hookError;
        hookError = null;
        if (error != null) throw new IllegalStateException("gradient buckets: " + error);
        if (!hooksOn) {
            attach(parameters);
        } else if (!rebuilt) {
            rebuildByArrival();
            rebuilt = true;
            arrivals.clear();
        }
    }

    /** Copies parameter {@code i}'s gradient (zeros when null or undefined) into its bucket. */
    private void pack(int i, Tensor grad) {
        int b = bucketOf[i];
        Tensor slot = flats.get(b).narrow(0, offsets.get(b)[slotOf[i]], sizes[i]);
        if (grad != null && grad.defined()) {
            if (grad.numel() != sizes[i]) throw new IllegalArgumentException("parameter " + i + " changed size");
            slot.copy_(grad.reshape(-1));
        } else {
            slot.zero_();
        }
        packed[i] = true;
        pending[b]--;
    }

    /** Starts the all-reduces of the buckets that are complete, in index order, stopping at the first that is not. */
    private void launchReady() {
        while (launched < flats.size() && pending[launched] == 0) {
            TensorVector v = new TensorVector(flats.get(launched));
            v.retainReference(); // Gloo reads the buffer until the work completes: released in resetPass()
            inputs[launched] = v;
            Work w = group.allreduce(v, sum);
            w.retainReference();
            works[launched] = w;
            launched++;
            allReduces++;
        }
    }

    /** Registers, on every parameter, the hook that packs its gradient during backward. */
    private void attach(TensorVector parameters) {
        for (int i = 0; i < sizes.length; i++) {
            final int index = i;
            // An owning handle: TensorVector.get returns a reference into the vector's storage, which dangles once
            // the caller frees the vector (a finished stage of the run), and close() still needs the parameter.
            Tensor p = new Tensor(parameters.get(i));
            if (!p.requires_grad()) { // libtorch refuses hooks there; such a parameter never has a gradient to pack
                hooked.add(null);
                hooks.add(null);
                continue;
            }
            VoidTensorHook hook = new VoidTensorHook() {
                @Override
                public void call(TensorBase grad) {
                    onGradient(index, grad);
                }
            };
            hookIds[i] = p.register_hook(hook);
            // both outlive the caller's PointerScope (the step that ran the first reduce): released by close()
            p.retainReference();
            hook.retainReference();
            hooked.add(p);
            hooks.add(hook);
        }
    }

    /**
     * A hook: runs inside libtorch's backward, so it never throws; a problem is kept and reported by the next
     * {@link #reduce}, after every started all-reduce is complete (so that the ranks stay in step).
     */
    private void onGradient(int i, TensorBase grad) {
        long t0 = System.nanoTime();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            if (packed[i]) {
                if (hookError == null) hookError = "parameter " + i + " received a second gradient before reduce(): call reduce() after every backward";
                return;
            }
            if (hooked.get(i).grad().defined() && hookError == null)
                hookError = "parameter " + i + " already had a gradient before backward: clear the gradients (optimizer.zero_grad()) before each backward";
            pack(i, new Tensor(grad));
            if (!rebuilt) arrivals.add(i);
        } catch (Throwable e) {
            if (hookError == null) hookError = "packing the gradient of parameter " + i + " failed: " + e;
            return;
        } finally {
            nanos += System.nanoTime() - t0;
        }
        try {
            launchReady();
        } catch (Throwable e) {
            if (hookError == null) hookError = "starting an all-reduce failed: " + e;
        }
    }

    private void resetPass() {
        java.util.Arrays.fill(packed, false);
        for (int b = 0; b < pending.length; b++) {
            pending[b] = members.get(b).length;
            if (works[b] != null) works[b].releaseReference();
            if (inputs[b] != null) inputs[b].releaseReference();
            works[b] = null;
            inputs[b] = null;
        }
        launched = 0;
    }

    void await(Work work, String what) {
        DistributedContext.await(work, rank, timeoutMs, what);
    }

    @Override
    public void close() {
        for (int i = 0; i < hooks.size(); i++) {
            if (hooks.get(i) == null) continue;
            hooked.get(i).remove_hook(hookIds[i]);
            hooked.get(i).releaseReference();
            hooks.get(i).releaseReference();
        }
        hooks.clear();
        hooked.clear();
        resetPass();
        for (Tensor t : flats) t.releaseReference();
        flats.clear();
        sum.releaseReference();
        worldScalar.releaseReference();
    }
}
