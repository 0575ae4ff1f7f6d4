package org.dreamteacher.data;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dreamteacher.torch.TorchRuntime;

/** Copies between Java arrays and CPU tensors (package-private helpers). */
final class Tensors {
    private Tensors() {}

    static Tensor floats(float[] data, long... shape) {
        TorchRuntime.init();
        Tensor t = torch.empty(shape, new TensorOptions(ScalarType.Float), new MemoryFormatOptional());
        if (data.length > 0) t.data_ptr_float().put(data);
        return t;
    }

    /** The tensor's values as float32 in row-major order (copied to the CPU and made contiguous if needed). */
    static float[] toFloats(Tensor t) {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            Tensor c = t.detach().cpu().to(ScalarType.Float).contiguous();
            float[] out = new float[Math.toIntExact(c.numel())];
            if (out.length > 0) c.data_ptr_float().get(out);
            return out;
        }
    }

    static long[] toLongs(Tensor t) {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            Tensor c = t.detach().cpu().to(ScalarType.Long).contiguous();
            long[] out = new long[Math.toIntExact(c.numel())];
            if (out.length > 0) c.data_ptr_long().get(out);
            return out;
        }
    }

    static long[] shape(Tensor t) {
        TorchRuntime.init();
        try (PointerScope scope = new PointerScope()) {
            return t.sizes().vec().get();
        }
    }
}
