package org.dreamteacher.torch.kernels;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.cuda.CUDAGuard;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * libtorch's CUDA device and stream of a tensor. Kept apart from {@link NativeTensorKernels} because these
 * classes exist only in libtorch's CUDA build (with JavaCPP's cuda preset); this class is loaded only once a CUDA
 * tensor has been seen, which implies that build.
 */
final class CudaStreams {
    private CudaStreams() {}

    /** A scope that makes a device current and restores the previous one on close. */
    interface DeviceScope extends AutoCloseable {
        DeviceScope NONE = () -> {};

        @Override
        void close();
    }

    /** The address of the tensor device's current cudaStream_t. */
    static long currentStream(Tensor tensor) {
        return torch_cuda.getCurrentCUDAStream(tensor.device().index()).stream().address();
    }

    /** Makes the tensor's device current until closed, as libtorch's own CUDA ops do. */
    static DeviceScope deviceScope(Tensor tensor) {
        CUDAGuard guard = new CUDAGuard(tensor.device());
        return guard::close;
    }
}
