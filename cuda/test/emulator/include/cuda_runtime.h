// Minimal CUDA runtime emulation for running cuda/*.cu on a CPU (cuda/test/emulator/run.sh):
// just what the project's kernels use. Never used by the real build.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <tuple>
#include <vector>
#include <math.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
inline double2 make_double2(double a, double b) { return double2{a, b}; }

typedef void* cudaStream_t;
typedef void* cudaMemPool_t;
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2,
                   cudaErrorInitializationError = 3, cudaErrorInvalidConfiguration = 9,
                   cudaErrorInsufficientDriver = 35, cudaErrorNoDevice = 100 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                      cudaDevAttrMemoryPoolsSupported };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };
enum cudaMemPoolAttr { cudaMemPoolAttrReleaseThreshold };
enum { cudaMemAllocationTypePinned = 1, cudaMemHandleTypeNone = 0, cudaMemLocationTypeDevice = 1 };
struct cudaMemLocation { int type; int id; };
struct cudaMemPoolProps { int allocType; int handleTypes; cudaMemLocation location; };

namespace emu {
extern dim3 g_threadIdx, g_blockIdx, g_blockDim, g_gridDim;
extern int g_sms, g_smem_optin, g_pools;
extern cudaError_t g_last_error;
extern size_t g_dyn_smem_allowed;
extern unsigned char* g_dyn_smem;
extern int g_failures;
void fail(const char* fmt, ...);
void sync_block();
void warp_exchange(const void* in, void* out, size_t bytes, int src_lane);
template <class T> T* dyn_smem() { return reinterpret_cast<T*>(g_dyn_smem); }
struct Cfg { long long grid; long long block; size_t smem; cudaStream_t stream; };
void run_grid(const Cfg& cfg, const std::function<void()>& body);
template <class... P, class... A>
void launch(void (*kernel)(P...), Cfg cfg, A... args) {
    std::tuple<typename std::decay<P>::type...> targs(static_cast<typename std::decay<P>::type>(args)...);
    run_grid(cfg, [&] { std::apply(kernel, targs); });
}
void* device_alloc(size_t bytes);
void device_free(void* p);
}  // namespace emu

#define threadIdx (emu::g_threadIdx)
#define blockIdx (emu::g_blockIdx)
#define blockDim (emu::g_blockDim)
#define gridDim (emu::g_gridDim)

template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
inline void __syncthreads() { emu::sync_block(); }
inline void __threadfence() {}
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
template <class T> inline T __shfl_xor_sync(unsigned mask, T v, int offset) {
    if (mask != 0xffffffffu) emu::fail("shuffle with partial mask");
    T r;
    emu::warp_exchange(&v, &r, sizeof(T), (int)((threadIdx.x & 31) ^ offset));
    return r;
}

inline cudaError_t cudaGetLastError() { cudaError_t e = emu::g_last_error; emu::g_last_error = cudaSuccess; return e; }
inline const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated error"; }
inline const char* cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaErrorEmulated"; }
inline cudaError_t cudaGetDeviceCount(int* c) { *c = 1; return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
    switch (a) {
        case cudaDevAttrMultiProcessorCount: *v = emu::g_sms; break;
        case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = emu::g_smem_optin; break;
        case cudaDevAttrMemoryPoolsSupported: *v = emu::g_pools; break;
    }
    return cudaSuccess;
}
inline cudaError_t cudaMemPoolCreate(cudaMemPool_t* p, const cudaMemPoolProps*) { static int x; *p = &x; return cudaSuccess; }
inline cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, cudaMemPoolAttr, void*) { return cudaSuccess; }
inline cudaError_t cudaMallocFromPoolAsync(void** p, size_t b, cudaMemPool_t, cudaStream_t) { *p = emu::device_alloc(b); return cudaSuccess; }
inline cudaError_t cudaMallocAsync(void** p, size_t b, cudaStream_t) { *p = emu::device_alloc(b); return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t b) { *p = emu::device_alloc(b); return cudaSuccess; }
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) { emu::device_free(p); return cudaSuccess; }
inline cudaError_t cudaFree(void* p) { emu::device_free(p); return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) { std::memset(p, v, n); return cudaSuccess; }
template <class K> cudaError_t cudaFuncSetAttribute(K, cudaFuncAttribute, int v) { emu::g_dyn_smem_allowed = (size_t)v; return cudaSuccess; }
template <class K> cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* n, K, int block, size_t smem) {
    int by_threads = 2048 / block;
    int by_smem = smem ? (int)((228 * 1024) / (smem + 1024)) : 32;
    *n = std::max(1, std::min(std::min(by_threads, by_smem), 32));
    return cudaSuccess;
}
