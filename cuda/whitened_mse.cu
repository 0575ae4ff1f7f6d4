// Whitened MSE on the GPU (docs/design.md section 3.1):
//   W(t) = (t - mu) / sqrt(var + eps)   (var biased; mu, var over (C,H,W) per sample or over C per pixel)
//   L = 1/(N*C*H*W) * sum (s - W(t))^2,  grad = grad_scale * 2 (s - W(t)) / (N*C*H*W)
//
// Statistics are computed in double. Per sample, with a shift k = the sample's first teacher value:
//   S1 = sum (t - k), S2 = sum (t - k)^2,  mean - k = S1/M,  var = S2/M - (S1/M)^2
// Since k is one of the values, (mean - k)^2 <= M * var, so the cancellation in var costs at most a
// relative M * 2^-53 (2e-9 for M = 16M): exact enough for teachers of magnitude 1e4 with a small
// variance, and exactly 0 for a constant teacher. t - mu is formed in double as (t - k) - S1/M.
// Per pixel the C values of a position are kept in shared memory and the variance is two-pass.
//
// Kernels:
//   PER_SAMPLE, M <= 1024:   sample_warp_kernel (one warp per sample, everything in one pass pair).
//   PER_SAMPLE, larger M:    sample_stats_kernel (S1, S2 per (sample, chunk) block) then
//                            sample_apply_kernel (merges its sample's chunk sums in a fixed order,
//                            writes the gradient, per-block loss sums, last block writes the loss).
//                            The apply kernel walks the chunks in reverse order so that the teacher
//                            chunks read last by the stats kernel (most likely still in L2) come first;
//                            student loads and gradient stores are streaming (evict-first) so they do
//                            not push the teacher out of L2.
//   PER_PIXEL:               pixel_kernel (column tiles: all C values of 32..256 positions, cached in
//                            shared memory when they fit, so the teacher is read once).
#include "cuda_common.cuh"

namespace dt {
namespace cuda {

namespace {

using namespace detail;

constexpr const char* kFn = "dt_cuda_whitened_mse_f32";
constexpr int kThreads = 256;
constexpr int64_t kWarpSampleMax = 1024;  // samples of at most this many elements: one warp each
constexpr int64_t kMinChunk = 8192;       // at least this many elements per (sample, chunk) block

// (mean - shift, 1/sqrt(var + eps)) from the shifted sums S1, S2 of m values.
__device__ __forceinline__ void shifted_stats(double s1, double s2, double m, double eps,
                                              double& mean_off, double& rstd) {
    mean_off = s1 / m;
    const double var = fmax(s2 / m - mean_off * mean_off, 0.0);
    rstd = 1.0 / sqrt(var + eps);
}

// One element: returns (s - W(t))^2 and, when kGrad, stores coef * (s - W(t)).
template <bool kGrad>
__device__ __forceinline__ double apply_one(float sv, float tv, double shift, double mean_off,
                                            double rstd, double coef, float& out) {
    const double d = static_cast<double>(sv) - ((static_cast<double>(tv) - shift) - mean_off) * rstd;
    if (kGrad) out = static_cast<float>(coef * d);
    return d * d;
}

// ------------------------------------------------------------------------------------------------
// PER_SAMPLE, small samples: one warp per sample (grid-stride over samples)
// ------------------------------------------------------------------------------------------------
template <bool kGrad>
__global__ void __launch_bounds__(kThreads)
sample_warp_kernel(const float* __restrict__ s, const float* __restrict__ t, int64_t samples,
                   int64_t m, double eps, double coef, float* __restrict__ g,
                   double* __restrict__ partials, unsigned int* counter, double scale, float* loss) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
    const double md = static_cast<double>(m);
    double acc = 0.0;
    for (int64_t n = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; n < samples;
         n += warps) {
        const int64_t base = n * m;
        const double shift = __ldg(t + base);
        double s1 = 0.0, s2 = 0.0;
        for (int64_t i = lane; i < m; i += 32) {
            const double d = static_cast<double>(__ldg(t + base + i)) - shift;
            s1 += d;
            s2 = fma(d, d, s2);
        }
        s1 = warp_sum(s1);
        s2 = warp_sum(s2);
        double mean_off, rstd;
        shifted_stats(s1, s2, md, eps, mean_off, rstd);
        for (int64_t i = lane; i < m; i += 32) {
            float out;
            acc += apply_one<kGrad>(__ldcs(s + base + i), __ldg(t + base + i), shift, mean_off, rstd,
                                    coef, out);
            if (kGrad) __stcs(g + base + i, out);
        }
    }
    finish_loss(block_sum(acc), partials, counter, scale, loss);
}

// ------------------------------------------------------------------------------------------------
// PER_SAMPLE, large samples: items = (sample n, chunk j), elements [j*chunk, min((j+1)*chunk, m))
// of sample n. kVec: m and chunk are multiples of 4 and the pointers 16-byte aligned.
// ------------------------------------------------------------------------------------------------
template <bool kVec>
__global__ void __launch_bounds__(kThreads)
sample_stats_kernel(const float* __restrict__ t, int64_t m, int64_t chunk, int64_t chunks,
                    int64_t items, double2* __restrict__ stats, unsigned int* counter) {
    if (blockIdx.x == 0 && threadIdx.x == 0) *counter = 0u;  // for sample_apply_kernel
    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const int64_t n = item / chunks;
        const int64_t lo = (item - n * chunks) * chunk;
        const int64_t hi = lo + chunk < m ? lo + chunk : m;
        const float* ts = t + n * m;
        const double shift = __ldg(ts);
        double s1 = 0.0, s2 = 0.0;
        if (kVec) {
            const float4* t4 = reinterpret_cast<const float4*>(ts);
#pragma unroll 4
            for (int64_t i = lo / 4 + threadIdx.x; i < hi / 4; i += blockDim.x) {
                const float4 v = __ldg(t4 + i);
                const double d0 = v.x - shift, d1 = v.y - shift, d2 = v.z - shift, d3 = v.w - shift;
                s1 += (d0 + d1) + (d2 + d3);
                s2 = fma(d0, d0, s2);
                s2 = fma(d1, d1, s2);
                s2 = fma(d2, d2, s2);
                s2 = fma(d3, d3, s2);
            }
        } else {
#pragma unroll 4
            for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
                const double d = static_cast<double>(__ldg(ts + i)) - shift;
                s1 += d;
                s2 = fma(d, d, s2);
            }
        }
        s1 = block_sum(s1);
        s2 = block_sum(s2);
        if (threadIdx.x == 0) stats[item] = make_double2(s1, s2);
    }
}

template <bool kVec, bool kGrad>
__global__ void __launch_bounds__(kThreads)
sample_apply_kernel(const float* __restrict__ s, const float* __restrict__ t, int64_t m,
                    int64_t chunk, int64_t chunks, int64_t items,
                    const double2* __restrict__ stats, double eps, double coef,
                    float* __restrict__ g, double* __restrict__ partials, unsigned int* counter,
                    double scale, float* loss) {
    const double md = static_cast<double>(m);
    double acc = 0.0;
    for (int64_t k = blockIdx.x; k < items; k += gridDim.x) {
        const int64_t item = items - 1 - k;
        const int64_t n = item / chunks;
        const int64_t lo = (item - n * chunks) * chunk;
        const int64_t hi = lo + chunk < m ? lo + chunk : m;
        // The sample's sums, merged in the same order by every block of the sample.
        double s1 = 0.0, s2 = 0.0;
        for (int64_t j = threadIdx.x; j < chunks; j += blockDim.x) {
            const double2 v = stats[n * chunks + j];
            s1 += v.x;
            s2 += v.y;
        }
        s1 = block_sum(s1);
        s2 = block_sum(s2);
        const int64_t base = n * m;
        const double shift = __ldg(t + base);
        double mean_off, rstd;
        shifted_stats(s1, s2, md, eps, mean_off, rstd);
        if (kVec) {
            const float4* s4 = reinterpret_cast<const float4*>(s + base);
            const float4* t4 = reinterpret_cast<const float4*>(t + base);
            float4* g4 = kGrad ? reinterpret_cast<float4*>(g + base) : nullptr;
#pragma unroll 2
            for (int64_t i = lo / 4 + threadIdx.x; i < hi / 4; i += blockDim.x) {
                const float4 sv = __ldcs(s4 + i);
                const float4 tv = __ldg(t4 + i);
                float4 out;
                acc += apply_one<kGrad>(sv.x, tv.x, shift, mean_off, rstd, coef, out.x);
                acc += apply_one<kGrad>(sv.y, tv.y, shift, mean_off, rstd, coef, out.y);
                acc += apply_one<kGrad>(sv.z, tv.z, shift, mean_off, rstd, coef, out.z);
                acc += apply_one<kGrad>(sv.w, tv.w, shift, mean_off, rstd, coef, out.w);
                if (kGrad) __stcs(g4 + i, out);
            }
        } else {
#pragma unroll 4
            for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
                float out;
                acc += apply_one<kGrad>(__ldcs(s + base + i), __ldg(t + base + i), shift, mean_off,
                                        rstd, coef, out);
                if (kGrad) __stcs(g + base + i, out);
            }
        }
    }
    finish_loss(block_sum(acc), partials, counter, scale, loss);
}

// ------------------------------------------------------------------------------------------------
// PER_PIXEL: column tiles. Column q in [0, N*P) is position p = q % P of sample n = q / P; its
// channel c is at n*C*P + c*P + p, so a warp reads 32 consecutive floats of one channel row.
// Thread (col, grp) handles channels grp, grp + groups, ... of column tile*cols + col.
// Shared memory: red[blockDim] (double), mean[cols], rstd[cols] (double), then, when kCached,
// the tile's teacher values tile[c * cols + col] (float; each thread only touches its own).
// ------------------------------------------------------------------------------------------------
template <bool kCached, bool kGrad>
__global__ void __launch_bounds__(1024)
pixel_kernel(const float* __restrict__ s, const float* __restrict__ t, int64_t c, int64_t p,
             int64_t columns, int cols, int groups, double eps, double coef,
             float* __restrict__ g, double* __restrict__ partials, unsigned int* counter,
             double scale, float* loss) {
    extern __shared__ double smem[];
    double* red = smem;
    double* col_mean = red + blockDim.x;
    double* col_rstd = col_mean + cols;
    float* tile = reinterpret_cast<float*>(col_rstd + cols);
    const int col = threadIdx.x % cols;
    const int grp = threadIdx.x / cols;
    const double cd = static_cast<double>(c);
    const int64_t tiles = ceil_div(columns, cols);
    double acc = 0.0;
    for (int64_t tile_index = blockIdx.x; tile_index < tiles; tile_index += gridDim.x) {
        const int64_t q = tile_index * cols + col;
        const bool valid = q < columns;
        int64_t base = 0;
        if (valid) {
            const int64_t n = q / p;
            base = n * c * p + (q - n * p);
        }
        // Pass 1: mean.
        double sum = 0.0;
        if (valid) {
#pragma unroll 8
            for (int64_t ch = grp; ch < c; ch += groups) {
                const float v = __ldg(t + base + ch * p);
                if (kCached) tile[ch * cols + col] = v;
                sum += v;
            }
        }
        red[threadIdx.x] = sum;
        __syncthreads();
        if (grp == 0) {
            double total = 0.0;
            for (int j = 0; j < groups; ++j) total += red[j * cols + col];
            col_mean[col] = total / cd;
        }
        __syncthreads();
        const double mean = col_mean[col];
        // Pass 2: biased variance around the mean.
        double m2 = 0.0;
        if (valid) {
#pragma unroll 8
            for (int64_t ch = grp; ch < c; ch += groups) {
                const float v = kCached ? tile[ch * cols + col] : __ldg(t + base + ch * p);
                const double d = static_cast<double>(v) - mean;
                m2 = fma(d, d, m2);
            }
        }
        red[threadIdx.x] = m2;  // every read of red in pass 1 happened before the last barrier
        __syncthreads();
        if (grp == 0) {
            double total = 0.0;
            for (int j = 0; j < groups; ++j) total += red[j * cols + col];
            col_rstd[col] = 1.0 / sqrt(total / cd + eps);
        }
        __syncthreads();
        const double rstd = col_rstd[col];
        // Pass 3: loss and gradient. col_mean / col_rstd are rewritten only after the next tile's
        // first barrier, which every thread reaches after these reads.
        if (valid) {
#pragma unroll 4
            for (int64_t ch = grp; ch < c; ch += groups) {
                const int64_t at = base + ch * p;
                const float tv = kCached ? tile[ch * cols + col] : __ldg(t + at);
                const double d = static_cast<double>(__ldcs(s + at)) -
                                 (static_cast<double>(tv) - mean) * rstd;
                acc = fma(d, d, acc);
                if (kGrad) __stcs(g + at, static_cast<float>(coef * d));
            }
        }
    }
    finish_loss(block_sum(acc), partials, counter, scale, loss);
}

// ------------------------------------------------------------------------------------------------
// Host side
// ------------------------------------------------------------------------------------------------

dt_status per_sample(const WhitenedMseArgs& a, const DeviceInfo& dev, cudaStream_t stream,
                     double coef, double scale) {
    const bool grad = a.grad_student != nullptr;
    const int64_t m = a.c * a.h * a.w;
    const double eps = a.eps;
    cudaError_t err;
    if (m <= kWarpSampleMax) {
        auto kernel = grad ? sample_warp_kernel<true> : sample_warp_kernel<false>;
        const int grid =
            grid_size(ceil_div(a.n, kThreads / 32), resident_blocks(dev, kernel, kThreads, 0));
        return run_single_kernel(kFn, "launch of sample_warp_kernel", dev, stream, grid,
                                 [&](const LossScratch& ls) {
                                     kernel<<<grid, kThreads, 0, stream>>>(
                                         a.student, a.teacher, a.n, m, eps, coef, a.grad_student,
                                         ls.partials, ls.counter, scale, a.loss);
                                 });
    }

    const bool vec = m % 4 == 0 && aligned16(a.student) && aligned16(a.teacher) &&
                     (!grad || aligned16(a.grad_student));
    auto stats_kernel = vec ? sample_stats_kernel<true> : sample_stats_kernel<false>;
    auto apply_kernel = vec ? (grad ? sample_apply_kernel<true, true> : sample_apply_kernel<true, false>)
                            : (grad ? sample_apply_kernel<false, true> : sample_apply_kernel<false, false>);
    const int stats_cap = resident_blocks(dev, stats_kernel, kThreads, 0);
    const int apply_cap = resident_blocks(dev, apply_kernel, kThreads, 0);
    // Enough (sample, chunk) items to fill the device once, chunks of at least kMinChunk elements.
    int64_t chunks = ceil_div(apply_cap, a.n);
    const int64_t max_chunks = ceil_div(m, kMinChunk);
    if (chunks > max_chunks) chunks = max_chunks;
    if (chunks < 1) chunks = 1;
    int64_t chunk = ceil_div(m, chunks);
    if (vec) chunk = ceil_div(chunk, 4) * 4;
    chunks = ceil_div(m, chunk);
    const int64_t items = a.n * chunks;
    const int stats_grid = grid_size(items, stats_cap);
    const int apply_grid = grid_size(items, apply_cap);

    ScratchLayout layout;
    const size_t stats_at = layout.add<double2>(items);
    const size_t partials_at = layout.add<double>(apply_grid);
    const size_t counter_at = layout.add<unsigned int>(1);
    Scratch scratch(stream);
    if ((err = scratch.allocate(dev, layout.bytes)) != cudaSuccess)
        return fail(kFn, "scratch allocation", err);
    double2* stats = scratch.at<double2>(stats_at);
    unsigned int* counter = scratch.at<unsigned int>(counter_at);
    stats_kernel<<<stats_grid, kThreads, 0, stream>>>(a.teacher, m, chunk, chunks, items, stats,
                                                      counter);
    dt_status status = check_launch(kFn, "launch of sample_stats_kernel");
    if (status != DT_OK) return status;
    apply_kernel<<<apply_grid, kThreads, 0, stream>>>(a.student, a.teacher, m, chunk, chunks, items,
                                                      stats, eps, coef, a.grad_student,
                                                      scratch.at<double>(partials_at), counter,
                                                      scale, a.loss);
    return check_launch(kFn, "launch of sample_apply_kernel");
}

dt_status per_pixel(const WhitenedMseArgs& a, const DeviceInfo& dev, cudaStream_t stream,
                    double coef, double scale) {
    const bool grad = a.grad_student != nullptr;
    const int64_t p = a.h * a.w;
    const int64_t columns = a.n * p;
    const ColumnTile shape = column_tile(a.c);
    const int threads = shape.threads();
    const size_t base_smem = (static_cast<size_t>(threads) + 2 * shape.cols) * sizeof(double);
    const size_t tile_bytes = static_cast<size_t>(a.c) * shape.cols * sizeof(float);
    const bool cached = base_smem + tile_bytes <= max_dynamic_smem(dev);
    const size_t smem = base_smem + (cached ? tile_bytes : 0);
    auto kernel = cached ? (grad ? pixel_kernel<true, true> : pixel_kernel<true, false>)
                         : (grad ? pixel_kernel<false, true> : pixel_kernel<false, false>);
    cudaError_t err;
    if ((err = allow_dynamic_smem(dev, kernel, smem)) != cudaSuccess)
        return fail(kFn, "cudaFuncSetAttribute", err);
    const int grid =
        grid_size(ceil_div(columns, shape.cols), resident_blocks(dev, kernel, threads, smem));
    return run_single_kernel(kFn, "launch of pixel_kernel", dev, stream, grid,
                             [&](const LossScratch& ls) {
                                 kernel<<<grid, threads, smem, stream>>>(
                                     a.student, a.teacher, a.c, p, columns, shape.cols, shape.groups,
                                     static_cast<double>(a.eps), coef, a.grad_student, ls.partials,
                                     ls.counter, scale, a.loss);
                             });
}

}  // namespace

dt_status whitened_mse(const WhitenedMseArgs& a, void* stream_handle) {
    const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
    DeviceInfo dev;
    const cudaError_t err = current_device(&dev);
    if (err != cudaSuccess) return fail(kFn, "device query", err);
    const double total = static_cast<double>(a.n * a.c * a.h * a.w);
    const double coef = 2.0 * static_cast<double>(a.grad_scale) / total;
    const double scale = 1.0 / total;
    return a.mode == DT_WHITEN_PER_SAMPLE ? per_sample(a, dev, stream, coef, scale)
                                          : per_pixel(a, dev, stream, coef, scale);
}

}  // namespace cuda
}  // namespace dt
