package org.dreamteacher.parallel;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.CpuTensors;
import org.dreamteacher.torch.TorchRuntime;

/**
 * This process's membership of a data-parallel run over libtorch's c10d: a {@code TCPStore} hosted by rank 0
 * (the rendezvous, as torchrun's) and a Gloo process group whose collectives all carry the options' timeout.
 * Joining waits at most that long for every rank; a collective that a dead or silent rank cannot complete fails
 * within it too, with a {@link DistributedException} naming this rank and what it was doing.
 *
 * <p>As a {@link DataParallel} it broadcasts rank 0's weights at the start, averages gradients in
 * {@link GradientBuckets} and BatchNorm buffers after each step. Gloo picks its network interface from
 * {@code GLOO_SOCKET_IFNAME} when set, else the loopback device for a loopback master address, else the address
 * this host's name resolves to.
 */
public final class DistributedContext implements DataParallel, AutoCloseable {
    private final DistributedOptions options;
    private final TCPStore store;
    private final ProcessGroupGloo group;
    private final long timeoutMs;
    private GradientBuckets buckets;
    private long bufferBytes;
    private long bufferNanos;

    private DistributedContext(DistributedOptions options, TCPStore store, ProcessGroupGloo group) {
        this.options = options;
        this.store = store;
        this.group = group;
        this.timeoutMs = options.timeout().toMillis();
    }

    /** Joins the run: returns once all {@code worldSize} ranks have met, or throws within the timeout. */
    public static DistributedContext join(DistributedOptions o) {
        TorchRuntime.init();
        long ms = o.timeout().toMillis();
        Rendezvous.Listener listener = null;
        int port = o.masterPort();
        if (o.rank() == 0 && (Rendezvous.isLoopback(o.masterAddr()) || port == 0)) {
            // Bound to the loopback address only (libtorch's TCPStore would listen on every interface), on the
            // requested port or, for port 0, on one the system picks: no race between choosing and binding it.
            listener = Rendezvous.listenLoopback(o.masterAddr(), port);
            port = listener.port();
            if (o.masterPort() == 0) Rendezvous.publishPort(port);
        } else if (port == 0) {
            port = Rendezvous.awaitPort(o.rank(), ms);
        }
        String where = o.masterAddr() + ":" + port;
        TCPStore store;
        try {
            TCPStoreOptions so = new TCPStoreOptions();
            so.port((short) port);
            if (listener != null) so.masterListenFd(new org.bytedeco.pytorch.IntOptional(listener.fd()));
            so.isServer(o.rank() == 0);
            so.numWorkers(new SizeTPointer(1).put(o.worldSize()));
            so.waitWorkers(true);
            so.timeout(new Milliseconds(ms));
            store = new TCPStore(o.masterAddr(), so);
            store.retainReference(); // kept for the life of the process even if the caller has a PointerScope open
        } catch (RuntimeException e) {
            throw new DistributedException("rank " + o.rank() + " of " + o.worldSize() + ": the ranks did not all meet at " + where
                    + " within " + seconds(ms) + " (" + (o.rank() == 0 ? "some rank never joined" : "is rank 0 running there?") + "): "
                    + firstLine(e), e);
        }
        ProcessGroupGloo group;
        try {
            ProcessGroupGloo.Options go = ProcessGroupGloo.Options.create(new Milliseconds(ms));
            go.devices().push_back(device(o.masterAddr()));
            group = new ProcessGroupGloo(store, o.rank(), o.worldSize(), go);
            group.retainReference();
        } catch (RuntimeException e) {
            throw new DistributedException("rank " + o.rank() + " of " + o.worldSize() + ": the Gloo process group could not connect the ranks within "
                    + seconds(ms) + ": " + firstLine(e), e);
        }
        return new DistributedContext(o, store, group);
    }

    private static org.bytedeco.pytorch.gloo.Device device(String masterAddr) {
        String ifname = System.getenv("GLOO_SOCKET_IFNAME");
        if (ifname != null && !ifname.isBlank()) return ProcessGroupGloo.createDeviceForInterface(ifname.trim());
        try {
            if (InetAddress.getByName(masterAddr).isLoopbackAddress()) return ProcessGroupGloo.createDeviceForHostname(masterAddr);
        } catch (UnknownHostException e) {
            throw new DistributedException("unknown master address " + masterAddr, e);
        }
        return ProcessGroupGloo.createDefaultDevice();
    }

    public DistributedOptions options() {
        return options;
    }

    @Override
    public int rank() {
        return options.rank();
    }

    @Override
    public int worldSize() {
        return options.worldSize();
    }

    /** The gradient buckets, once {@link #reduceGradients} has run (null before). */
    public GradientBuckets buckets() {
        return buckets;
    }

    /** Bytes of BatchNorm buffers averaged per step (0 for models without them). */
    public long bufferBytesPerStep() {
        return bufferBytes;
    }

    /** Seconds spent averaging buffers. */
    public double bufferSeconds() {
        return bufferNanos / 1e9;
    }

    @Override
    public void begin(long step, List<? extends Module> modules) {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor steps = CpuTensors.longs(new long[] {step, -step});
            AllreduceOptions max = new AllreduceOptions();
            max.reduceOp(new ReduceOp(ReduceOp.RedOpType.MAX));
            max.timeout(new Milliseconds(timeoutMs));
            await(group.allreduce(new TensorVector(steps), max), rank(), timeoutMs, "agreeing on the start step");
            long[] mm = new long[2];
            steps.data_ptr_long().get(mm);
            if (mm[0] != step || -mm[1] != step)
                throw new DistributedException("rank " + rank() + " starts at step " + step + " but the ranks start between step " + (-mm[1])
                        + " and " + mm[0] + ": every rank must see the same checkpoints (a shared run folder)");
            List<Tensor> floats = new ArrayList<>(), others = new ArrayList<>();
            for (Module m : modules) {
                for (TensorVector v : new TensorVector[] {m.parameters(), m.buffers()}) {
                    for (long i = 0; i < v.size(); i++) {
                        Tensor t = v.get(i).detach();
                        if (t.scalar_type().intern() == ScalarType.Float && t.is_contiguous()) floats.add(t);
                        else others.add(t);
                    }
                }
            }
            BroadcastOptions root = new BroadcastOptions();
            root.rootRank(0);
            root.timeout(new Milliseconds(timeoutMs));
            if (!floats.isEmpty()) {
                Tensor flat = flatten(floats);
                await(group.broadcast(new TensorVector(flat), root), rank(), timeoutMs, "receiving rank 0's weights");
                unflatten(flat, floats);
            }
            for (Tensor t : others) {
                Tensor c = t.contiguous();
                await(group.broadcast(new TensorVector(c), root), rank(), timeoutMs, "receiving rank 0's weights");
                if (!c.is_same(t)) t.copy_(c);
            }
        }
    }

    @Override
    public void reduceGradients(TensorVector parameters) {
        if (buckets != null && !buckets.fits(parameters)) { // another stage of the run trains other parameters
            buckets.close();
            buckets = null;
        }
        if (buckets == null) buckets = new GradientBuckets(group, rank(), worldSize(), timeoutMs, parameters, options.bucketBytes());
        buckets.reduce(parameters);
    }

    @Override
    public void afterStep(List<? extends Module> modules) {
        long t0 = System.nanoTime();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            List<Tensor> floats = new ArrayList<>();
            for (Module m : modules) {
                TensorVector v = m.buffers();
                for (long i = 0; i < v.size(); i++) {
                    Tensor t = v.get(i);
                    if (t.scalar_type().intern() == ScalarType.Float && t.is_contiguous()) floats.add(t);
                }
            }
            if (floats.isEmpty()) return;
            Tensor flat = flatten(floats);
            bufferBytes = 4 * flat.numel();
            AllreduceOptions sum = new AllreduceOptions();
            sum.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
            sum.timeout(new Milliseconds(timeoutMs));
            await(group.allreduce(new TensorVector(flat), sum), rank(), timeoutMs, "averaging the BatchNorm statistics");
            flat.div_(new Scalar((double) worldSize()));
            unflatten(flat, floats);
        } finally {
            bufferNanos += System.nanoTime() - t0;
        }
    }

    @Override
    public boolean anyRank(boolean flag) {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor t = torch.full(new long[] {1}, new Scalar(flag ? 1.0 : 0.0), new TensorOptions(ScalarType.Float));
            AllreduceOptions max = new AllreduceOptions();
            max.reduceOp(new ReduceOp(ReduceOp.RedOpType.MAX));
            max.timeout(new Milliseconds(timeoutMs));
            await(group.allreduce(new TensorVector(t), max), rank(), timeoutMs, "agreeing whether the step is finite on every rank");
            return t.item_float() > 0;
        }
    }

    /** Waits for every rank to get here (within the timeout). */
    public void barrier() {
        try (PointerScope scope = new PointerScope()) {
            await(group.barrier(), rank(), timeoutMs, "waiting at a barrier");
        }
    }

    private static Tensor flatten(List<Tensor> ts) {
        TensorVector v = new TensorVector();
        for (Tensor t : ts) v.push_back(t.reshape(-1));
        return torch.cat(v);
    }

    private static void unflatten(Tensor flat, List<Tensor> ts) {
        long off = 0;
        for (Tensor t : ts) {
            long n = t.numel();
            t.copy_(flat.narrow(0, off, n).view_as(t));
            off += n;
        }
    }

    static void await(Work work, int rank, long timeoutMs, String what) {
        boolean done;
        try {
            done = work._wait(new Milliseconds(timeoutMs));
        } catch (RuntimeException e) {
            throw new DistributedException("rank " + rank + ": " + what + " failed; another rank died or stopped answering: " + firstLine(e), e);
        }
        if (!done) throw new DistributedException("rank " + rank + ": " + what + " timed out after " + seconds(timeoutMs) + "; another rank died or stopped answering");
    }

    static String seconds(long ms) {
        return (ms % 1000 == 0 ? Long.toString(ms / 1000) : String.format(java.util.Locale.ROOT, "%.1f", ms / 1000.0)) + " s";
    }

    static String firstLine(Throwable e) {
        String m = e.getMessage();
        return m == null ? e.toString() : m.lines().findFirst().orElse(m).trim();
    }

    @Override
    public void close() {
        if (buckets != null) buckets.close();
        buckets = null;
    }
}
