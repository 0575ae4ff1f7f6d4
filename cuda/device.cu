// CUDA availability, per-device facts, error messages and stream-ordered scratch memory shared by
// the CUDA kernels (declared in cuda_common.cuh and dt_internal.h).
#include <atomic>
#include <cstdio>
#include <mutex>

#include "cuda_common.cuh"

namespace dt {
namespace cuda {

int available(const char** why) {
    struct Answer {
        int ok;
        const char* why;
    };
    // Computed once (thread-safe static initialisation); the message lives in a static buffer.
    static const Answer answer = [] {
        static char message[256];
        int count = 0;
        const cudaError_t err = cudaGetDeviceCount(&count);
        if (err == cudaSuccess && count > 0) return Answer{1, ""};
        (void)cudaGetLastError();
        if (err == cudaSuccess || err == cudaErrorNoDevice) return Answer{0, "no CUDA device"};
        const bool no_driver =
            err == cudaErrorInsufficientDriver || err == cudaErrorInitializationError;
        std::snprintf(message, sizeof message, "%s (cudaGetDeviceCount: %s)",
                      no_driver ? "no CUDA driver" : "CUDA is not usable", cudaGetErrorString(err));
        return Answer{0, message};
    }();
    if (why != nullptr) *why = answer.why;
    return answer.ok;
}

namespace detail {

dt_status fail(const char* fn, const char* what, cudaError_t err) {
    set_error("%s: %s failed: %s (%s)", fn, what, cudaGetErrorString(err), cudaGetErrorName(err));
    return DT_ERR_CUDA;
}

namespace {

constexpr int kMaxCachedDevices = 64;
// Memory our pool keeps across synchronisations (scratch is small: per-block partial sums and, for
// attention transfer, two double maps of N*H*W values).
constexpr uint64_t kPoolReleaseThreshold = 64ull << 20;

struct CachedDevice {
    std::atomic<bool> ready{false};
    DeviceInfo info;
};
CachedDevice device_cache[kMaxCachedDevices];
std::mutex device_cache_mutex;

cudaError_t query(int device, DeviceInfo* info) {
    info->device = device;
    cudaError_t err = cudaDeviceGetAttribute(&info->sms, cudaDevAttrMultiProcessorCount, device);
    if (err != cudaSuccess) return err;
    err = cudaDeviceGetAttribute(&info->max_smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                 device);
    if (err != cudaSuccess) return err;
    int pools = 0;
    err = cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device);
    if (err != cudaSuccess) return err;
    info->pools_supported = pools != 0;
    info->pool = nullptr;
    if (info->pools_supported) {
        cudaMemPoolProps props = {};
        props.allocType = cudaMemAllocationTypePinned;
        props.handleTypes = cudaMemHandleTypeNone;
        props.location.type = cudaMemLocationTypeDevice;
        props.location.id = device;
        cudaMemPool_t pool = nullptr;
        if (cudaMemPoolCreate(&pool, &props) == cudaSuccess) {
            uint64_t threshold = kPoolReleaseThreshold;
            (void)cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
            info->pool = pool;  // kept for the life of the process
        } else {
            (void)cudaGetLastError();  // fall back to the device's default pool (cudaMallocAsync)
        }
    }
    return cudaSuccess;
}

}  // namespace

cudaError_t current_device(DeviceInfo* info) {
    int device = 0;
    cudaError_t err = cudaGetDevice(&device);
    if (err != cudaSuccess) return err;
    if (device < 0 || device >= kMaxCachedDevices) return query(device, info);
    CachedDevice& slot = device_cache[device];
    if (!slot.ready.load(std::memory_order_acquire)) {
        std::lock_guard<std::mutex> lock(device_cache_mutex);
        if (!slot.ready.load(std::memory_order_relaxed)) {
            err = query(device, &slot.info);
            if (err != cudaSuccess) return err;
            slot.ready.store(true, std::memory_order_release);
        }
    }
    *info = slot.info;
    return cudaSuccess;
}

namespace {

// A small table of per-(kernel, device, block, smem) answers. Lookups take a mutex (uncontended:
// tens of nanoseconds); a full table just stops caching.
struct KernelFact {
    const void* kernel;
    int device;
    int block;
    size_t smem;
    int value;
};
constexpr int kMaxKernelFacts = 512;
KernelFact kernel_facts[kMaxKernelFacts];
int kernel_fact_count = 0;
std::mutex kernel_facts_mutex;

bool find_fact(const void* kernel, int device, int block, size_t smem, int* value) {
    std::lock_guard<std::mutex> lock(kernel_facts_mutex);
    for (int i = 0; i < kernel_fact_count; ++i) {
        const KernelFact& f = kernel_facts[i];
        if (f.kernel == kernel && f.device == device && f.block == block && f.smem == smem) {
            *value = f.value;
            return true;
        }
    }
    return false;
}

void store_fact(const void* kernel, int device, int block, size_t smem, int value) {
    std::lock_guard<std::mutex> lock(kernel_facts_mutex);
    if (kernel_fact_count < kMaxKernelFacts)
        kernel_facts[kernel_fact_count++] = KernelFact{kernel, device, block, smem, value};
}

}  // namespace

int resident_blocks(const DeviceInfo& dev, const void* kernel, int block, size_t smem) {
    int per_sm = 0;
    if (find_fact(kernel, dev.device, block, smem, &per_sm)) return per_sm * dev.sms;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, block, smem) != cudaSuccess ||
        per_sm < 1) {
        (void)cudaGetLastError();  // not fatal: the launch itself will report a real problem
        return dev.sms;
    }
    store_fact(kernel, dev.device, block, smem, per_sm);
    return per_sm * dev.sms;
}

cudaError_t allow_dynamic_smem(const DeviceInfo& dev, const void* kernel, size_t smem) {
    if (smem + kStaticSmemReserve <= kDefaultSmemLimit) return cudaSuccess;
    // block = -1 marks "opted in" entries in the table.
    int done = 0;
    if (find_fact(kernel, dev.device, -1, 0, &done)) return cudaSuccess;
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 static_cast<int>(max_dynamic_smem(dev)));
    if (err == cudaSuccess) store_fact(kernel, dev.device, -1, 0, 1);
    return err;
}

cudaError_t Scratch::allocate(const DeviceInfo& dev, size_t bytes) {
    if (bytes == 0) bytes = 256;
    if (dev.pool != nullptr) return cudaMallocFromPoolAsync(&ptr_, bytes, dev.pool, stream_);
    if (dev.pools_supported) return cudaMallocAsync(&ptr_, bytes, stream_);
    async_ = false;
    return cudaMalloc(&ptr_, bytes);
}

Scratch::~Scratch() {
    if (ptr_ == nullptr) return;
    // Errors are ignored: a failed free cannot be reported from here, and a launch error (if any)
    // has already been recorded by the launcher.
    const cudaError_t err = async_ ? cudaFreeAsync(ptr_, stream_)
                                   : cudaFree(ptr_);  // synchronises; only without stream-ordered allocation
    if (err != cudaSuccess) (void)cudaGetLastError();  // do not leave it for the next launch check
}

}  // namespace detail
}  // namespace cuda
}  // namespace dt
