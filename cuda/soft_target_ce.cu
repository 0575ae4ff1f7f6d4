// Soft-target cross entropy with temperature on the GPU (docs/design.md section 3.3), logits (N, K, P):
//   L    = 1/(N*P) * sum_{n,p} -sum_k softmax(t/T)_k * log_softmax(s/T)_k
//   grad = grad_scale * (softmax(s/T) - softmax(t/T)) / (T*N*P)
// Per row (one (n, p): K logits, strided by P), with ms = max s, mt = max t,
//   zs_k = (s_k - ms)/T <= 0, es_k = e^{zs_k}, Zs = sum es_k (and the same for t),
//   loss_row = log Zs - (sum_k et_k zs_k) / Zt   (both terms >= 0: no cancellation).
// The exponentials are float (expf, IEEE, ~2 ulp) and every sum is double. Zs is kept as
// (number of k with s_k == ms) + (sum of the other terms), so that log Zs = log1p(rest) stays
// accurate when the other terms are tiny (a confident student); Zt is kept the same way. Row maxima make the exponentials
// safe for logits of any magnitude.
//
// Kernels:
//   row_kernel    P == 1 and K > 32: one warp per row (the K logits are contiguous); the row is
//                 kept in registers (K <= 1024) so each logit is read once.
//   column_kernel otherwise: one thread per row, rows of consecutive positions in consecutive
//                 threads so that each load of a warp is 32 consecutive floats (P > 1; for P == 1 and
//                 K <= 32 the lines of a warp's rows are reused from L1). A row's logits (then its
//                 exponentials) are kept in shared memory when K <= 92, so each logit is read once.
// Both end with per-block loss sums added in a fixed order by the last block.
#include <cmath>

#include "cuda_common.cuh"

namespace dt {
namespace cuda {

namespace {

using namespace detail;

constexpr const char* kFn = "dt_cuda_soft_target_ce_f32";
constexpr int kThreads = 256;
// column_kernel keeps its rows in shared memory when 2*K*threads floats fit in kColumnCacheBytes
// (under the default 48 KB with the static shared memory): K <= 23 with 256 threads, K <= 46 with
// 128, K <= 92 with 64.
constexpr size_t kColumnCacheBytes = 46 * 1024;

// Zs = count_s + rest_s: count_s terms with s_k == max s (each e^0 = 1 exactly) plus the others;
// Zt likewise. Summing both the same way makes the gradient exactly 0 when s == t.
struct RowSums {
    int count_s = 0;
    int count_t = 0;
    double rest_s = 0.0;
    double rest_t = 0.0;
    double dot = 0.0;  // sum et_k * zs_k (<= 0)
    __device__ double zs() const { return count_s + rest_s; }
    __device__ double zt() const { return count_t + rest_t; }
};

// The two exponentials of one logit pair (recomputed identically by the gradient pass when the
// row is not cached); zs returned for the loss term.
// Non-finite inputs propagate to the loss (dreamteacher.h): a teacher -Inf would not by itself
// (its exponential is 0 and the loss stays finite), so 0 * zt is added to zs: +-0 for a finite
// teacher logit (zs unchanged), NaN for a teacher -Inf or NaN, which then reaches the loss.
__device__ __forceinline__ void softmax_terms(float sv, float tv, float ms, float mt, float inv_tau,
                                              float& es, float& et, float& zs) {
    const float zt = (tv - mt) * inv_tau;
    zs = (sv - ms) * inv_tau + 0.0f * zt;
    es = expf(zs);
    et = expf(zt);
}

__device__ __forceinline__ void accumulate(float sv, float tv, float ms, float mt, float es,
                                           float et, float zs, RowSums& r) {
    if (sv == ms)
        ++r.count_s;
    else
        r.rest_s += es;
    if (tv == mt)
        ++r.count_t;
    else
        r.rest_t += et;
    r.dot = fma(static_cast<double>(et), static_cast<double>(zs), r.dot);
}

__device__ __forceinline__ void warp_reduce(RowSums& r) {
    r.count_s = warp_sum(r.count_s);
    r.count_t = warp_sum(r.count_t);
    r.rest_s = warp_sum(r.rest_s);
    r.rest_t = warp_sum(r.rest_t);
    r.dot = warp_sum(r.dot);
}

__device__ __forceinline__ double row_loss(const RowSums& r) {
    const double log_zs = r.count_s == 1 ? log1p(r.rest_s) : log(r.zs());
    return log_zs - r.dot / r.zt();
}

// ------------------------------------------------------------------------------------------------
// P == 1, K > 32: one warp per row. kR > 0: lane holds logits lane + 32*j, j < kR (K <= 32*kR), in
// registers; kR == 0: any K, logits re-read from global memory (L1/L2) in each pass.
// ------------------------------------------------------------------------------------------------
template <int kR, bool kGrad>
__global__ void __launch_bounds__(kThreads)
row_kernel(const float* __restrict__ s, const float* __restrict__ t, int64_t rows, int64_t k,
           float inv_tau, double coef, float* __restrict__ g, double* __restrict__ partials,
           unsigned int* counter, double scale, float* loss) {
    constexpr int kSlots = kR > 0 ? kR : 1;  // (unused when kR == 0)
    const int lane = threadIdx.x & 31;
    const int64_t warps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
    double acc = 0.0;
    for (int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
         row < rows; row += warps) {
        const float* sr = s + row * k;
        const float* tr = t + row * k;
        float vs[kSlots], vt[kSlots];  // kR > 0 only
        float ms = -INFINITY, mt = -INFINITY;
        if constexpr (kR > 0) {
#pragma unroll
            for (int j = 0; j < kR; ++j) {
                const int64_t i = lane + 32 * j;
                if (i < k) {
                    vs[j] = __ldcs(sr + i);
                    vt[j] = __ldcs(tr + i);
                    ms = fmaxf(ms, vs[j]);
                    mt = fmaxf(mt, vt[j]);
                }
            }
        } else {
            for (int64_t i = lane; i < k; i += 32) {
                ms = fmaxf(ms, __ldg(sr + i));
                mt = fmaxf(mt, __ldg(tr + i));
            }
        }
        ms = warp_max(ms);
        mt = warp_max(mt);
        RowSums r;
        if constexpr (kR > 0) {
#pragma unroll
            for (int j = 0; j < kR; ++j) {
                if (lane + 32 * j < k) {
                    float es, et, zs;
                    softmax_terms(vs[j], vt[j], ms, mt, inv_tau, es, et, zs);
                    accumulate(vs[j], vt[j], ms, mt, es, et, zs, r);
                    vs[j] = es;
                    vt[j] = et;
                }
            }
        } else {
#pragma unroll 1
            for (int64_t i = lane; i < k; i += 32) {
                const float sv = __ldg(sr + i), tv = __ldg(tr + i);
                float es, et, zs;
                softmax_terms(sv, tv, ms, mt, inv_tau, es, et, zs);
                accumulate(sv, tv, ms, mt, es, et, zs, r);
            }
        }
        warp_reduce(r);
        if (lane == 0) acc += row_loss(r);
        if (kGrad) {
            const double ks = coef / r.zs();
            const double kt = coef / r.zt();
            float* gr = g + row * k;
            if constexpr (kR > 0) {
#pragma unroll
                for (int j = 0; j < kR; ++j) {
                    const int64_t i = lane + 32 * j;
                    if (i < k) __stcs(gr + i, static_cast<float>(vs[j] * ks - vt[j] * kt));
                }
            } else {
                for (int64_t i = lane; i < k; i += 32) {
                    float es, et, zs;
                    softmax_terms(__ldg(sr + i), __ldg(tr + i), ms, mt, inv_tau, es, et, zs);
                    __stcs(gr + i, static_cast<float>(es * ks - et * kt));
                }
            }
        }
    }
    finish_loss(block_sum(acc), partials, counter, scale, loss);
}

// ------------------------------------------------------------------------------------------------
// Any (K, P): one thread per row. Row q in [0, N*P) is position p = q % P of sample n = q / P; its
// logit k is at n*K*P + k*P + p. kCached: shared memory holds the thread's K logits of s and t
// (then their exponentials) at [k * blockDim.x + threadIdx.x] (conflict-free, thread-private).
// ------------------------------------------------------------------------------------------------
template <bool kCached, bool kGrad>
__global__ void __launch_bounds__(kThreads)
column_kernel(const float* __restrict__ s, const float* __restrict__ t, int64_t k, int64_t p,
              int64_t columns, float inv_tau, double coef, float* __restrict__ g,
              double* __restrict__ partials, unsigned int* counter, double scale, float* loss) {
    extern __shared__ float cache[];
    float* cs = cache;
    float* ct = cache + k * blockDim.x;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    double acc = 0.0;
    for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < columns;
         q += stride) {
        const int64_t n = q / p;
        const int64_t base = n * k * p + (q - n * p);
        float ms = -INFINITY, mt = -INFINITY;
#pragma unroll 4
        for (int64_t j = 0; j < k; ++j) {
            const float sv = __ldg(s + base + j * p);
            const float tv = __ldg(t + base + j * p);
            if (kCached) {
                cs[j * blockDim.x + threadIdx.x] = sv;
                ct[j * blockDim.x + threadIdx.x] = tv;
            }
            ms = fmaxf(ms, sv);
            mt = fmaxf(mt, tv);
        }
        RowSums r;
#pragma unroll 4
        for (int64_t j = 0; j < k; ++j) {
            const int64_t slot = j * blockDim.x + threadIdx.x;
            const float sv = kCached ? cs[slot] : __ldg(s + base + j * p);
            const float tv = kCached ? ct[slot] : __ldg(t + base + j * p);
            float es, et, zs;
            softmax_terms(sv, tv, ms, mt, inv_tau, es, et, zs);
            accumulate(sv, tv, ms, mt, es, et, zs, r);
            if (kCached && kGrad) {
                cs[slot] = es;
                ct[slot] = et;
            }
        }
        acc += row_loss(r);
        if (kGrad) {
            const double ks = coef / r.zs();
            const double kt = coef / r.zt();
#pragma unroll 4
            for (int64_t j = 0; j < k; ++j) {
                float es, et;
                if (kCached) {
                    es = cs[j * blockDim.x + threadIdx.x];
                    et = ct[j * blockDim.x + threadIdx.x];
                } else {
                    float zs;
                    softmax_terms(__ldg(s + base + j * p), __ldg(t + base + j * p), ms, mt, inv_tau,
                                  es, et, zs);
                }
                __stcs(g + base + j * p, static_cast<float>(es * ks - et * kt));
            }
        }
    }
    finish_loss(block_sum(acc), partials, counter, scale, loss);
}

template <int kR>
using RowKernel = decltype(&row_kernel<kR, true>);

template <int kR>
RowKernel<kR> pick_row(bool grad) {
    return grad ? row_kernel<kR, true> : row_kernel<kR, false>;
}

}  // namespace

dt_status soft_target_ce(const SoftTargetCeArgs& a, void* stream_handle) {
    const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
    DeviceInfo dev;
    const cudaError_t err = current_device(&dev);
    if (err != cudaSuccess) return fail(kFn, "device query", err);
    const bool grad = a.grad_student != nullptr;
    const double tau = a.temperature;
    const double rows = static_cast<double>(a.n * a.positions);
    const float inv_tau = static_cast<float>(1.0 / tau);
    const double coef = static_cast<double>(a.grad_scale) / (tau * rows);
    const double scale = 1.0 / rows;

    if (a.positions == 1 && a.k > 32) {
        const int64_t k = a.k;
        RowKernel<0> kernel = k <= 128    ? pick_row<4>(grad)
                              : k <= 256  ? pick_row<8>(grad)
                              : k <= 512  ? pick_row<16>(grad)
                              : k <= 1024 ? pick_row<32>(grad)
                                          : pick_row<0>(grad);
        // 4 warps per block when the row takes many registers (up to 144 for kR = 32): finer
        // granularity for the register file (3 blocks of 128 threads per SM instead of 1 of 256).
        const int threads = k > 256 ? 128 : kThreads;
        const int grid =
            grid_size(ceil_div(a.n, threads / 32), resident_blocks(dev, kernel, threads, 0));
        return run_single_kernel(kFn, "launch of row_kernel", dev, stream, grid,
                                 [&](const LossScratch& ls) {
                                     kernel<<<grid, threads, 0, stream>>>(
                                         a.student_logits, a.teacher_logits, a.n, k, inv_tau, coef,
                                         a.grad_student, ls.partials, ls.counter, scale, a.loss);
                                 });
    }

    const auto cache_bytes = [&](int threads) {
        return 2 * static_cast<size_t>(a.k) * static_cast<size_t>(threads) * sizeof(float);
    };
    int threads = kThreads;
    while (threads > 64 && cache_bytes(threads) > kColumnCacheBytes) threads /= 2;
    const bool cached = cache_bytes(threads) <= kColumnCacheBytes;
    if (!cached) threads = kThreads;
    const size_t smem = cached ? cache_bytes(threads) : 0;
    auto kernel = cached ? (grad ? column_kernel<true, true> : column_kernel<true, false>)
                         : (grad ? column_kernel<false, true> : column_kernel<false, false>);
    const int64_t columns = a.n * a.positions;
    const int grid =
        grid_size(ceil_div(columns, threads), resident_blocks(dev, kernel, threads, smem));
    return run_single_kernel(kFn, "launch of column_kernel", dev, stream, grid,
                             [&](const LossScratch& ls) {
                                 kernel<<<grid, threads, smem, stream>>>(
                                     a.student_logits, a.teacher_logits, a.k, a.positions, columns,
                                     inv_tau, coef, a.grad_student, ls.partials, ls.counter, scale,
                                     a.loss);
                             });
}

}  // namespace cuda
}  // namespace dt
