package org.dreamteacher.nn;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.bytedeco.pytorch.GenericDict;
import org.bytedeco.pytorch.GenericDictIterator;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TupleElements;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.torch.TorchRuntime;

/**
 * A teacher trained elsewhere (a pixel-space diffusion U-Net such as ADM's, exported from Python with
 * {@code torch.jit.script} or {@code torch.jit.trace}) standing in for ours. It receives images noised in pixel
 * space, so a latent diffusion model (Stable Diffusion), which expects noised VAE latents, does not fit it as is.
 * A TorchScript file is code: load only files you trust. Its {@code forward(x, t)} must
 * return feature maps as a list or tuple of tensors, a dict from names to tensors, or one tensor; each must be
 * (N, C, H, W) with the input's batch size and an integer stride (input height / feature height). Features
 * are returned largest stride first, named by their dict key or "f" + list position. Runs in eval mode
 * without autograd: teachers receive no gradient.
 */
public final class TorchScriptTeacher implements FeatureTeacher, AutoCloseable {
    private final JitModule module;
    private final long inChannels;
    private final Path file;

    private TorchScriptTeacher(JitModule module, long inChannels, Path file) {
        this.module = module;
        this.inChannels = inChannels;
        this.file = file;
    }

    /** Loads a TorchScript file; {@code inChannels} is the image channel count the module expects. */
    public static TorchScriptTeacher load(Path file, long inChannels) {
        TorchRuntime.init();
        if (inChannels <= 0) throw new IllegalArgumentException("inChannels must be positive, got " + inChannels);
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no such TorchScript file");
        JitModule m;
        try {
            m = torch.load(file.toString());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a loadable TorchScript module: " + firstLine(e.getMessage()), e);
        }
        m.eval();
        return new TorchScriptTeacher(m, inChannels, file);
    }

    /** Wraps a module built in this process (it must outlive this teacher). */
    public static TorchScriptTeacher of(JitModule module, long inChannels) {
        TorchRuntime.init();
        module.eval();
        return new TorchScriptTeacher(module, inChannels, null);
    }

    @Override
    public long inChannels() {
        return inChannels;
    }

    @Override
    public List<FeatureMap> features(Tensor xt, Tensor t) {
        if (xt.dim() != 4 || xt.size(1) != inChannels)
            throw new IllegalArgumentException("teacher input must be (N, " + inChannels + ", H, W)");
        IValue out;
        try (NoGradGuard ng = new NoGradGuard()) {
            out = module.forward(new IValueVector(new IValue(xt), new IValue(t)));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(source() + ": forward(x, t) failed: " + firstLine(e.getMessage()), e);
        }
        List<FeatureMap> maps = new ArrayList<>();
        if (out.isTensor()) {
            maps.add(map("f0", out.toTensor(), xt));
        } else if (out.isTensorList()) {
            var v = out.toTensorVector();
            for (long i = 0; i < v.size(); i++) maps.add(map("f" + i, v.get(i), xt));
        } else if (out.isTuple() || out.isList()) {
            List<IValue> items = new ArrayList<>();
            if (out.isTuple()) {
                TupleElements el = out.toTupleRef().elements();
                for (long i = 0; i < el.size(); i++) items.add(el.get(i));
            } else {
                IValueVector v = out.toList().vec();
                for (long i = 0; i < v.size(); i++) items.add(v.get(i));
            }
            for (int i = 0; i < items.size(); i++) {
                if (!items.get(i).isTensor()) throw new IllegalArgumentException(source() + ": output " + i + " is not a tensor");
                maps.add(map("f" + i, items.get(i).toTensor(), xt));
            }
        } else if (out.isGenericDict()) {
            GenericDict d = out.toGenericDict();
            for (GenericDictIterator it = d.begin(); !it.equals(d.end()); it = it.increment()) {
                IValue k = it.access().key(), v = it.access().value();
                if (!k.isString() || !v.isTensor())
                    throw new IllegalArgumentException(source() + ": dict outputs must map names to tensors");
                maps.add(map(k.toStringRef().getString(), v.toTensor(), xt));
            }
        } else {
            throw new IllegalArgumentException(source() + ": forward must return tensors (list, tuple, dict or tensor)");
        }
        if (maps.isEmpty()) throw new IllegalArgumentException(source() + ": forward returned no feature maps");
        maps.sort(Comparator.comparingInt(FeatureMap::stride).reversed());
        return maps;
    }

    private FeatureMap map(String name, Tensor f, Tensor x) {
        if (f.dim() != 4 || f.size(0) != x.size(0))
            throw new IllegalArgumentException(source() + ": feature '" + name + "' must be (N, C, H, W) with N = " + x.size(0));
        long h = f.size(2);
        if (h <= 0 || x.size(2) % h != 0 || x.size(3) % f.size(3) != 0 || x.size(2) / h != x.size(3) / f.size(3))
            throw new IllegalArgumentException(source() + ": feature '" + name + "' of size " + h + "x" + f.size(3)
                    + " has no integer stride relative to the " + x.size(2) + "x" + x.size(3) + " input");
        return new FeatureMap(name, f, (int) (x.size(2) / h));
    }

    private String source() {
        return file == null ? "TorchScript teacher" : file.toString();
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    @Override
    public void close() {
        if (file != null) module.close();
    }
}
