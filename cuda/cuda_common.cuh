// The one header shared by the CUDA kernels (cuda/*.cu): error reporting, per-device information,
// stream-ordered scratch memory, deterministic warp/block reductions and the "last block finishes
// the loss" pattern. Host functions declared here are defined in device.cu.
//
// Determinism: every floating-point sum is computed in an order fixed by the shape, the launch
// configuration (itself a function of the shape and of the device) and the thread indices, never by
// scheduling. Blocks write per-block partial sums (double) to scratch; the last block to finish
// (found with an integer atomic counter) adds them in index order. Integer atomics only count; no
// floating-point atomics are used anywhere.
#ifndef DT_CUDA_COMMON_CUH
#define DT_CUDA_COMMON_CUH

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "dt_internal.h"

namespace dt {
namespace cuda {
namespace detail {

// ------------------------------------------------------------------------------------------------
// Host side (defined in device.cu)
// ------------------------------------------------------------------------------------------------

// Records "<fn>: <what> failed: <error string> (<error name>)" and returns DT_ERR_CUDA.
dt_status fail(const char* fn, const char* what, cudaError_t err);

// Facts about the current device, cached per device after the first call.
struct DeviceInfo {
    int device = 0;
    int sms = 1;                 // streaming multiprocessors
    int max_smem_optin = 48 * 1024;  // dynamic shared memory a block may opt in to (bytes)
    cudaMemPool_t pool = nullptr;    // our own stream-ordered pool, or null: use cudaMallocAsync
    bool pools_supported = true;     // false: no stream-ordered allocator (cudaMalloc fallback)
};
cudaError_t current_device(DeviceInfo* info);

// Stream-ordered scratch memory: one allocation per call, freed (stream-ordered) by the destructor,
// so that every exit path of a launcher releases it. The memory comes from a per-device pool
// created by this library (release threshold 64 MiB), so repeated calls do not go back to the
// driver; allocation and release never synchronise the host (except on devices without
// stream-ordered allocation, where cudaMalloc/cudaFree are the fallback).
class Scratch {
public:
    explicit Scratch(cudaStream_t stream) : stream_(stream) {}
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    cudaError_t allocate(const DeviceInfo& dev, size_t bytes);
    // The byte at `offset` of the allocation, as T*.
    template <class T>
    T* at(size_t offset) const {
        return reinterpret_cast<T*>(static_cast<unsigned char*>(ptr_) + offset);
    }

private:
    cudaStream_t stream_;
    void* ptr_ = nullptr;
    bool async_ = true;
};

// Lays out several arrays in one scratch allocation (each aligned to 256 bytes).
struct ScratchLayout {
    size_t bytes = 0;
    template <class T>
    size_t add(int64_t count) {
        const size_t offset = (bytes + 255) & ~static_cast<size_t>(255);
        bytes = offset + static_cast<size_t>(count) * sizeof(T);
        return offset;
    }
};

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blocks of `kernel` (block threads, dynamic shared memory smem) that fit on the whole device at
// once: the grid size of the persistent (grid-stride) kernels. At least the number of SMs. Cached
// per (kernel, device, block, smem), so repeated calls cost a table lookup.
int resident_blocks(const DeviceInfo& dev, const void* kernel, int block, size_t smem);
template <class Kernel>
int resident_blocks(const DeviceInfo& dev, Kernel kernel, int block, size_t smem) {
    return resident_blocks(dev, reinterpret_cast<const void*>(kernel), block, smem);
}

// Grid size: min(work items, cap), at least 1.
inline int grid_size(int64_t items, int cap) {
    if (items < 1) return 1;
    return static_cast<int>(items < cap ? items : cap);
}

// Dynamic shared memory a kernel may use: the device's opt-in maximum less a reserve for the
// kernels' static shared memory (block_sum and last_block_done use under 300 bytes).
constexpr size_t kDefaultSmemLimit = 48 * 1024;  // static + dynamic, without opting in
constexpr size_t kStaticSmemReserve = 1024;
inline size_t max_dynamic_smem(const DeviceInfo& dev) {
    return static_cast<size_t>(dev.max_smem_optin) - kStaticSmemReserve;
}

// Lets `kernel` use `smem` bytes of dynamic shared memory (<= max_dynamic_smem(dev)). Above the
// default limit it opts in to max_dynamic_smem(dev) once per (kernel, device): always the same
// value for a device, so concurrent callers cannot undo each other.
cudaError_t allow_dynamic_smem(const DeviceInfo& dev, const void* kernel, size_t smem);
template <class Kernel>
cudaError_t allow_dynamic_smem(const DeviceInfo& dev, Kernel kernel, size_t smem) {
    return allow_dynamic_smem(dev, reinterpret_cast<const void*>(kernel), smem);
}

// Reports the error of the last launch, if any.
inline dt_status check_launch(const char* fn, const char* kernel) {
    const cudaError_t err = cudaGetLastError();
    return err == cudaSuccess ? DT_OK : fail(fn, kernel, err);
}

// Scratch of a loss computed by a single kernel: `grid` per-block partial sums and a zeroed counter
// (see finish_loss). Enqueues the zeroing, then launch(LossScratch) (which enqueues the kernel),
// checks the launch and releases the scratch behind the kernel on the stream.
struct LossScratch {
    double* partials;
    unsigned int* counter;
};
template <class Launch>
dt_status run_single_kernel(const char* fn, const char* kernel, const DeviceInfo& dev,
                            cudaStream_t stream, int grid, Launch&& launch) {
    ScratchLayout layout;
    const size_t partials_at = layout.add<double>(grid);
    const size_t counter_at = layout.add<unsigned int>(1);
    Scratch scratch(stream);
    cudaError_t err = scratch.allocate(dev, layout.bytes);
    if (err != cudaSuccess) return fail(fn, "scratch allocation", err);
    unsigned int* counter = scratch.at<unsigned int>(counter_at);
    err = cudaMemsetAsync(counter, 0, sizeof(unsigned int), stream);
    if (err != cudaSuccess) return fail(fn, "cudaMemsetAsync", err);
    launch(LossScratch{scratch.at<double>(partials_at), counter});
    return check_launch(fn, kernel);
}

// Column tiles used by the kernels that reduce over channels at each position (per-pixel
// whitening, attention maps): a block covers `cols` consecutive positions (a multiple of 32, so a
// warp reads 32 consecutive floats of one channel row) and `groups` channel groups (thread
// (col, g) handles channels g, g + groups, ...). groups * cols threads in all (<= 1024).
struct ColumnTile {
    int cols;
    int groups;
    int threads() const { return cols * groups; }
};
inline ColumnTile column_tile(int64_t channels) {
    if (channels >= 512) return {32, 32};
    if (channels >= 16) return {32, 16};
    const int g = static_cast<int>(channels);
    return {g <= 8 ? 32 * (8 / g) : 32, g};
}

// ------------------------------------------------------------------------------------------------
// Device side
// ------------------------------------------------------------------------------------------------

constexpr unsigned kFullMask = 0xffffffffu;

// Butterfly sum over the 32 lanes: every lane ends with the same bits (at each step the two lanes
// of a pair add the same two values, and IEEE addition is commutative). Whole warps only.
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
        v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
    return v;
}

// Sum over the block, returned to every thread; a fixed tree for a given blockDim.x (a multiple of
// 32, <= 1024). Every thread of the block must call it (it synchronises).
template <class T>
__device__ __forceinline__ T block_sum(T v) {
    __shared__ T warp_totals[32];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // a previous block_sum<T> may still be reading warp_totals
    if (lane == 0) warp_totals[warp] = v;
    __syncthreads();
    T total = lane < warps ? warp_totals[lane] : T(0);
    return warp_sum(total);  // every warp adds the same values in the same order
}

// True in the last block of the grid to get here. Call with every thread of every block, after
// thread 0 wrote the block's results to global memory; those of all blocks are then visible to
// the last block (read them with __ldcg: L1 is not coherent).
__device__ __forceinline__ bool last_block_done(unsigned int* counter) {
    __shared__ int is_last;
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();  // release this block's writes before counting it
        const unsigned int done = atomicAdd(counter, 1u);
        is_last = done == gridDim.x - 1 ? 1 : 0;
        if (is_last) __threadfence();  // acquire the other blocks' writes
    }
    __syncthreads();
    return is_last != 0;
}

// Sum of partials[0..count) in index order (thread-strided, then a block tree), to every thread.
__device__ __forceinline__ double ordered_sum(const double* partials, int64_t count) {
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) acc += __ldcg(partials + i);
    return block_sum(acc);
}

// Ends a loss kernel: the block's value (the same in every thread, e.g. from block_sum) goes to
// partials[blockIdx.x]; the last block writes *loss = scale * sum of all partials. The counter
// must be 0 before the kernel starts (zeroed by an earlier kernel or by cudaMemsetAsync).
__device__ __forceinline__ void finish_loss(double block_value, double* partials,
                                            unsigned int* counter, double scale, float* loss) {
    if (threadIdx.x == 0) partials[blockIdx.x] = block_value;
    if (last_block_done(counter)) {
        const double total = ordered_sum(partials, gridDim.x);
        if (threadIdx.x == 0) *loss = static_cast<float>(total * scale);
    }
}

}  // namespace detail
}  // namespace cuda
}  // namespace dt

#endif  // DT_CUDA_COMMON_CUH
