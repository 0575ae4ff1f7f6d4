package org.dreamteacher.nn;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GenericDict;
import org.bytedeco.pytorch.GenericDictIterator;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.MethodOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TupleElements;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;

/**
 * A teacher trained elsewhere and exported from Python with {@code torch.jit.script} (or {@code torch.jit.trace}
 * for the noised contract), standing in for ours. A TorchScript file is code: load only files you trust.
 *
 * <p>Two input contracts ({@link TeacherInput}):
 * <ul>
 *   <li>noised (a pixel-space diffusion U-Net such as ADM's): {@code forward(x, t)} receives the images noised in
 *       pixel space by the project, float32 (N, C, H, W), and the timesteps, int64 (N).
 *   <li>clean (a latent diffusion model such as Stable Diffusion, which noises its VAE's latents):
 *       {@code forward(x0, t, noise)} receives the clean images, float32 (N, C, H, W), the timesteps, int64 (N),
 *       and float32 noise drawn by the project, and encodes and noises by itself. The noise's shape is the
 *       module's to say: it must define {@code noise_shape(self, x0: Tensor) -> List[int]}, the shape (batch
 *       size first) of the noise it takes for the clean batch x0, which must depend on x0's shape only. A method
 *       is asked rather than the shape read off one forward call because the latent's shape follows the image
 *       size and a module knows it without running its encoder.
 * </ul>
 *
 * <p>Either forward must return feature maps as a list or tuple of tensors, a dict from names to tensors, or one
 * tensor; each must be (N, C, H, W) with the input's batch size and an integer stride (image height / feature
 * height). Features are returned largest stride first, named by their dict key or "f" + list position. Runs in
 * eval mode without autograd: teachers receive no gradient.
 */
public final class TorchScriptTeacher implements FeatureTeacher, AutoCloseable {
    /** The method a clean-input module must define: the shape of the noise for a clean batch. */
    public static final String NOISE_SHAPE = "noise_shape";

    private final JitModule module;
    private final long inChannels;
    private final Path file;
    private final TeacherInput input;

    private TorchScriptTeacher(JitModule module, long inChannels, Path file, TeacherInput input) {
        this.module = module;
        this.inChannels = inChannels;
        this.file = file;
        this.input = input;
    }

    /** Loads a TorchScript file whose {@code forward(x, t)} takes noised images; {@code inChannels} is the image channel count it expects. */
    public static TorchScriptTeacher load(Path file, long inChannels) {
        return load(file, inChannels, TeacherInput.NOISED);
    }

    /** Loads a TorchScript file following the {@code input} contract; {@code inChannels} is the image channel count it expects. */
    public static TorchScriptTeacher load(Path file, long inChannels, TeacherInput input) {
        TorchRuntime.init();
        if (inChannels <= 0) throw new IllegalArgumentException("inChannels must be positive, got " + inChannels);
        if (input == null) throw new IllegalArgumentException("the teacher input contract is null");
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no such TorchScript file");
        JitModule m;
        try {
            m = torch.load(file.toString());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a loadable TorchScript module: " + firstLine(e.getMessage()), e);
        }
        try {
            checkContract(m, input, file.toString());
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        m.eval();
        return new TorchScriptTeacher(m, inChannels, file, input);
    }

    /** Wraps a module built in this process (it must outlive this teacher); its forward takes noised images. */
    public static TorchScriptTeacher of(JitModule module, long inChannels) {
        return of(module, inChannels, TeacherInput.NOISED);
    }

    /** Wraps a module built in this process (it must outlive this teacher), following the {@code input} contract. */
    public static TorchScriptTeacher of(JitModule module, long inChannels, TeacherInput input) {
        TorchRuntime.init();
        if (input == null) throw new IllegalArgumentException("the teacher input contract is null");
        checkContract(module, input, "TorchScript teacher");
        module.eval();
        return new TorchScriptTeacher(module, inChannels, null, input);
    }

    /** The clean contract's needs, checked at load so that a wrong module fails before any work. */
    private static void checkContract(JitModule m, TeacherInput input, String source) {
        if (input != TeacherInput.CLEAN) return;
        try (PointerScope scope = new PointerScope()) {
            MethodOptional forward = m.find_method("forward");
            if (!forward.has_value())
                throw new IllegalArgumentException(source + ": the module has no forward method; the clean input contract calls forward(x0, t, noise)");
            long args = forward.get().num_inputs() - 1; // num_inputs counts self
            if (args < 3)
                throw new IllegalArgumentException(source + ": the clean input contract calls forward(x0, t, noise), but this module's forward takes "
                        + args + " argument" + (args == 1 ? "" : "s") + " (a forward(x, t) takes images noised in pixel space: the noised contract)");
            if (!m.find_method(NOISE_SHAPE).has_value())
                throw new IllegalArgumentException(source + ": the clean input contract needs a method " + NOISE_SHAPE
                        + "(self, x0: Tensor) -> List[int] giving the shape of the noise forward(x0, t, noise) takes (batch size first;"
                        + " mark it @torch.jit.export in Python); this module has none");
        }
    }

    @Override
    public long inChannels() {
        return inChannels;
    }

    @Override
    public TeacherInput input() {
        return input;
    }

    @Override
    public List<FeatureMap> features(Tensor xt, Tensor t) {
        if (input != TeacherInput.NOISED)
            throw new IllegalStateException(source() + " takes clean images (the clean input contract): call featuresOfClean(x0, t, noise)");
        checkImages(xt);
        IValue out;
        try (NoGradGuard ng = new NoGradGuard()) {
            out = module.forward(new IValueVector(new IValue(xt), new IValue(t)));
        } catch (RuntimeException e) {
            String hint = hasNoiseShape() ? " (the module defines " + NOISE_SHAPE + ": does it take clean images, the clean input contract?)" : "";
            throw new IllegalArgumentException(source() + ": forward(x, t) failed: " + firstLine(e.getMessage()) + hint, e);
        }
        return maps(out, xt);
    }

    /** The module's {@code noise_shape(x0)}, checked: positive sizes, batch size first. */
    @Override
    public long[] noiseShape(Tensor x0) {
        if (input != TeacherInput.CLEAN) return FeatureTeacher.super.noiseShape(x0);
        checkImages(x0);
        long[] shape;
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            IValue r;
            try {
                r = module.get_method(NOISE_SHAPE).apply(new IValueVector(new IValue(x0)));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(source() + ": " + NOISE_SHAPE + "(x0) failed: " + firstLine(e.getMessage()), e);
            }
            if (!r.isIntList())
                throw new IllegalArgumentException(source() + ": " + NOISE_SHAPE + "(x0) must return List[int], the shape of the noise, got " + r.tagKind().getString());
            shape = r.toIntVector().get();
        }
        boolean positive = shape.length > 0;
        for (long s : shape) positive &= s > 0;
        if (!positive || shape[0] != x0.size(0))
            throw new IllegalArgumentException(source() + ": " + NOISE_SHAPE + "(x0) returned " + Arrays.toString(shape) + " for images of shape "
                    + Arrays.toString(x0.sizes().vec().get()) + "; it must be positive sizes with the batch size " + x0.size(0) + " first");
        return shape;
    }

    @Override
    public List<FeatureMap> featuresOfClean(Tensor x0, Tensor t, Tensor noise) {
        if (input != TeacherInput.CLEAN)
            throw new IllegalStateException(source() + " takes images noised in pixel space (the noised input contract): call features(xt, t)");
        checkImages(x0);
        long n = x0.size(0);
        if (t == null || t.isNull() || !t.defined() || t.dim() != 1 || t.size(0) != n || t.scalar_type().intern() != ScalarType.Long)
            throw new IllegalArgumentException("the timesteps must be an int64 tensor of shape (" + n + ")");
        long[] want = noiseShape(x0);
        if (noise == null || noise.isNull() || !noise.defined() || !Arrays.equals(noise.sizes().vec().get(), want)
                || noise.scalar_type().intern() != ScalarType.Float)
            throw new IllegalArgumentException("the noise must be float32 of the shape " + NOISE_SHAPE + "(x0) gives, " + Arrays.toString(want));
        IValue out;
        try (NoGradGuard ng = new NoGradGuard()) {
            out = module.forward(new IValueVector(new IValue(x0), new IValue(t), new IValue(noise)));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(source() + ": forward(x0, t, noise) failed: " + firstLine(e.getMessage()), e);
        }
        return maps(out, x0);
    }

    private void checkImages(Tensor x) {
        if (x.dim() != 4 || x.size(1) != inChannels)
            throw new IllegalArgumentException("teacher input must be (N, " + inChannels + ", H, W)");
    }

    private boolean hasNoiseShape() {
        try (PointerScope scope = new PointerScope()) {
            return module.find_method(NOISE_SHAPE).has_value();
        }
    }

    /** The feature maps in a forward's return value, largest stride first; {@code x} is the image batch it was given. */
    private List<FeatureMap> maps(IValue out, Tensor x) {
        List<FeatureMap> maps = new ArrayList<>();
        if (out.isTensor()) {
            maps.add(map("f0", out.toTensor(), x));
        } else if (out.isTensorList()) {
            var v = out.toTensorVector();
            for (long i = 0; i < v.size(); i++) maps.add(map("f" + i, v.get(i), x));
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
                maps.add(map("f" + i, items.get(i).toTensor(), x));
            }
        } else if (out.isGenericDict()) {
            GenericDict d = out.toGenericDict();
            for (GenericDictIterator it = d.begin(); !it.equals(d.end()); it = it.increment()) {
                IValue k = it.access().key(), v = it.access().value();
                if (!k.isString() || !v.isTensor())
                    throw new IllegalArgumentException(source() + ": dict outputs must map names to tensors");
                maps.add(map(k.toStringRef().getString(), v.toTensor(), x));
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

    /**
     * The line of a libtorch error that says what went wrong: usually the first, but an error raised inside
     * TorchScript code starts with a generic header and a traceback and ends with the exception itself.
     */
    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        String first = nl < 0 ? s : s.substring(0, nl);
        if (first.startsWith("The following operation failed in the TorchScript interpreter")) {
            String[] lines = s.strip().split("\n");
            return lines[lines.length - 1].strip();
        }
        return first;
    }

    @Override
    public void close() {
        if (file != null) module.close();
    }
}
