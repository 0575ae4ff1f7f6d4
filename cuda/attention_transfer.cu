// Attention transfer on the GPU (docs/design.md section 3.2): student (N,Cs,H,W), teacher (N,Ct,H,W).
//   A(x)_{n,p} = sum_c |x_{n,c,p}|^pool_p,  q_n = A_n / max(||A_n||_2, eps)
//   SQUARED: L = 1/(N*P) sum (qs - qt)^2          g = dL/dqs = 2 (qs - qt) / (N*P)
//   NORM:    L = 1/N sum_n ||qs_n - qt_n||_2       g = (qs - qt) / (N ||qs_n - qt_n||), 0 if that is 0
//   dL/dA = (g - qs (qs . g)) / ||A_n||  if ||A_n|| >= eps, else g / eps   (as torch's F.normalize)
//   dL/dx = dL/dA * pool_p |x|^(pool_p - 1) sign(x), exactly 0 at x = 0.   Teachers get no gradient.
// With g = c_n (qs - qt) for a per-sample c_n, qs . g = c_n E_n where E_n = sum_p qs (qs - qt), and
// D_n = sum_p (qs - qt)^2 gives both losses, so everything per sample follows from D_n and E_n.
//
// Kernels (all sums in double, all in a fixed order):
//   maps_kernel      A for student and teacher (column tiles: a block reduces all channels of 32..256
//                    consecutive positions); double maps in scratch. Reads each input once.
//   norm_kernel      per (sample, chunk of positions): sum A_s^2 and sum A_t^2.
//   distance_kernel  per (sample, chunk): merges its sample's norm sums (fixed order), then D and E
//                    over the chunk; the last block merges D, E per sample, writes the per-sample
//                    coefficients (c_n, qs . g) and the loss.
//   grad_kernel      (only with a gradient) dL/dA per position, then dL/dx over the student's
//                    channels; walks the tiles in reverse so that the student tiles maps_kernel read
//                    last (most likely still in L2) come first.
// p == 1 and p == 2 are exact (|x|, x*x in double); any other pool_p uses powf (a few ulp per term).
#include <cmath>

#include "cuda_common.cuh"

namespace dt {
namespace cuda {

namespace {

using namespace detail;

constexpr const char* kFn = "dt_cuda_attention_transfer_f32";
constexpr int kThreads = 256;
constexpr int64_t kMinPositionChunk = 1024;  // positions per (sample, chunk) item, at least

enum Power { kPowGeneral = 0, kPowOne = 1, kPowTwo = 2 };

// Per-sample values for grad_kernel. ds, dt and (until the last block of distance_kernel replaces it
// by qs . g) the flag "||A_s|| >= eps" in `dot` are written by the sample's chunk-0 block.
struct alignas(16) SampleCoef {
    double ds;   // max(||A_s||, eps)
    double dt;   // max(||A_t||, eps)
    double c;    // g = c (qs - qt), grad_scale included
    double dot;  // qs . g where ||A_s|| >= eps, else 0
};

template <int kPow>
__device__ __forceinline__ double pooled(float x, float pool_p) {
    if constexpr (kPow == kPowTwo) {
        return static_cast<double>(x) * static_cast<double>(x);
    } else if constexpr (kPow == kPowOne) {
        return static_cast<double>(fabsf(x));
    } else {
        return static_cast<double>(powf(fabsf(x), pool_p));
    }
}

// dap = pool_p * dL/dA; returns dL/dx = dap * |x|^(pool_p - 1) * sign(x), 0 at x == 0.
template <int kPow>
__device__ __forceinline__ float pooled_grad(float x, float dap, float pool_p_minus_1) {
    if constexpr (kPow == kPowTwo) {
        return dap * x;
    } else if constexpr (kPow == kPowOne) {
        return x > 0.0f ? dap : (x < 0.0f ? -dap : 0.0f);
    } else {
        if (x == 0.0f) return 0.0f;
        return dap * copysignf(powf(fabsf(x), pool_p_minus_1), x);
    }
}

// ------------------------------------------------------------------------------------------------
// maps_kernel: column q in [0, N*P) is position q % P of sample q / P. Thread (col, grp) sums
// channels grp, grp + groups, ... of column tile*cols + col; red (dynamic shared memory,
// 2*blockDim doubles) merges the groups in order.
// ------------------------------------------------------------------------------------------------
// Two 1024-thread blocks per SM (32 registers) suit p = 1, 2; the powf path needs more registers
// (with 2 it spilled on sm_80).
template <int kPow>
__global__ void __launch_bounds__(1024, kPow == kPowGeneral ? 1 : 2)
maps_kernel(const float* __restrict__ s, int64_t cs, const float* __restrict__ t, int64_t ct,
            int64_t p, int64_t columns, int cols, int groups, float pool_p,
            double* __restrict__ as, double* __restrict__ at, unsigned int* counter) {
    extern __shared__ double red[];
    if (blockIdx.x == 0 && threadIdx.x == 0) *counter = 0u;  // for distance_kernel
    const int col = threadIdx.x % cols;
    const int grp = threadIdx.x / cols;
    const int64_t tiles = ceil_div(columns, cols);
    for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int64_t q = tile * cols + col;
        const bool valid = q < columns;
        double a_s = 0.0, a_t = 0.0;
        if (valid) {
            const int64_t n = q / p;
            const int64_t pos = q - n * p;
            const float* sx = s + n * cs * p + pos;
#pragma unroll 8
            for (int64_t c = grp; c < cs; c += groups) a_s += pooled<kPow>(__ldg(sx + c * p), pool_p);
            const float* tx = t + n * ct * p + pos;
#pragma unroll 8
            for (int64_t c = grp; c < ct; c += groups) a_t += pooled<kPow>(__ldcs(tx + c * p), pool_p);
        }
        red[threadIdx.x] = a_s;
        red[blockDim.x + threadIdx.x] = a_t;
        __syncthreads();
        if (grp == 0 && valid) {
            double sum_s = 0.0, sum_t = 0.0;
            for (int j = 0; j < groups; ++j) {
                sum_s += red[j * cols + col];
                sum_t += red[blockDim.x + j * cols + col];
            }
            as[q] = sum_s;
            at[q] = sum_t;
        }
        __syncthreads();  // red is rewritten by the next tile
    }
}

// ------------------------------------------------------------------------------------------------
// Items (sample n, chunk j): positions [j*chunk, min((j+1)*chunk, P)) of sample n.
// ------------------------------------------------------------------------------------------------
__global__ void __launch_bounds__(kThreads)
norm_kernel(const double* __restrict__ as, const double* __restrict__ at, int64_t p, int64_t chunk,
            int64_t chunks, int64_t items, double2* __restrict__ squares) {
    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const int64_t n = item / chunks;
        const int64_t lo = (item - n * chunks) * chunk;
        const int64_t hi = lo + chunk < p ? lo + chunk : p;
        double ss = 0.0, tt = 0.0;
        for (int64_t i = n * p + lo + threadIdx.x; i < n * p + hi; i += blockDim.x) {
            const double a = as[i], b = at[i];
            ss = fma(a, a, ss);
            tt = fma(b, b, tt);
        }
        ss = block_sum(ss);
        tt = block_sum(tt);
        if (threadIdx.x == 0) squares[item] = make_double2(ss, tt);
    }
}

__global__ void __launch_bounds__(kThreads)
distance_kernel(const double* __restrict__ as, const double* __restrict__ at, int64_t samples,
                int64_t p, int64_t chunk, int64_t chunks, int64_t items,
                const double2* __restrict__ squares, double2* de, SampleCoef* coef, double eps,
                int distance, double grad_scale, unsigned int* counter, float* loss) {
    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const int64_t n = item / chunks;
        const int64_t j0 = item - n * chunks;
        const int64_t lo = j0 * chunk;
        const int64_t hi = lo + chunk < p ? lo + chunk : p;
        // The sample's norms, merged in the same order by every block of the sample.
        double ss = 0.0, tt = 0.0;
        for (int64_t j = threadIdx.x; j < chunks; j += blockDim.x) {
            const double2 v = squares[n * chunks + j];
            ss += v.x;
            tt += v.y;
        }
        ss = block_sum(ss);
        tt = block_sum(tt);
        const double ns = sqrt(ss), nt = sqrt(tt);
        const double ds = ns > eps ? ns : eps;  // max(||A||, eps), as torch's clamp_min
        const double dt = nt > eps ? nt : eps;
        double d = 0.0, e = 0.0;
        for (int64_t i = n * p + lo + threadIdx.x; i < n * p + hi; i += blockDim.x) {
            const double qs = as[i] / ds, qt = at[i] / dt;
            const double diff = qs - qt;
            d = fma(diff, diff, d);
            e = fma(qs, diff, e);
        }
        d = block_sum(d);
        e = block_sum(e);
        if (threadIdx.x == 0) {
            de[item] = make_double2(d, e);
            if (j0 == 0) {
                SampleCoef sc;
                sc.ds = ds;
                sc.dt = dt;
                sc.c = 0.0;
                sc.dot = ns >= eps ? 1.0 : 0.0;  // flag, replaced below by the last block
                coef[n] = sc;
            }
        }
    }
    if (!last_block_done(counter)) return;
    // Last block: per sample, D and E in chunk order, then c_n, qs . g and the loss.
    const double nd = static_cast<double>(samples);
    const double np = nd * static_cast<double>(p);
    double contrib = 0.0;
    for (int64_t n = threadIdx.x; n < samples; n += blockDim.x) {
        double d = 0.0, e = 0.0;
        for (int64_t j = 0; j < chunks; ++j) {
            const double2 v = __ldcg(de + n * chunks + j);
            d += v.x;
            e += v.y;
        }
        double c;
        if (distance == DT_AT_SQUARED) {
            c = 2.0 * grad_scale / np;
            contrib += d;
        } else {
            const double norm = sqrt(d);
            c = norm > 0.0 ? grad_scale / (nd * norm) : 0.0;
            contrib += norm;
        }
        const bool norm_ok = __ldcg(&coef[n].dot) != 0.0;
        coef[n].c = c;
        coef[n].dot = norm_ok ? c * e : 0.0;
    }
    const double total = block_sum(contrib);
    if (threadIdx.x == 0)
        *loss = static_cast<float>(distance == DT_AT_SQUARED ? total / np : total / nd);
}

// ------------------------------------------------------------------------------------------------
// grad_kernel: the same column tiles as maps_kernel over the student's channels, in reverse order.
// ------------------------------------------------------------------------------------------------
template <int kPow>
__global__ void __launch_bounds__(1024)
grad_kernel(const float* __restrict__ s, int64_t cs, const double* __restrict__ as,
            const double* __restrict__ at, const SampleCoef* __restrict__ coef, int64_t p,
            int64_t columns, int cols, int groups, float pool_p, float* __restrict__ g) {
    __shared__ float dap_col[256];  // cols <= 256
    const int col = threadIdx.x % cols;
    const int grp = threadIdx.x / cols;
    const int64_t tiles = ceil_div(columns, cols);
    const float pool_p_minus_1 = pool_p - 1.0f;
    for (int64_t k = blockIdx.x; k < tiles; k += gridDim.x) {
        const int64_t q = (tiles - 1 - k) * cols + col;
        const bool valid = q < columns;
        const int64_t n = valid ? q / p : 0;
        if (grp == 0) {
            float dap = 0.0f;
            if (valid) {
                const SampleCoef sc = coef[n];
                const double qs = as[q] / sc.ds, qt = at[q] / sc.dt;
                const double d_a = (sc.c * (qs - qt) - qs * sc.dot) / sc.ds;
                dap = static_cast<float>(static_cast<double>(pool_p) * d_a);
            }
            dap_col[col] = dap;
        }
        __syncthreads();
        if (valid) {
            const float dap = dap_col[col];
            const int64_t base = n * cs * p + (q - n * p);
#pragma unroll 8
            for (int64_t c = grp; c < cs; c += groups) {
                const int64_t i = base + c * p;
                __stcs(g + i, pooled_grad<kPow>(__ldg(s + i), dap, pool_p_minus_1));
            }
        }
        __syncthreads();  // dap_col is rewritten by the next tile
    }
}

template <int kPow>
dt_status run(const AttentionTransferArgs& a, const DeviceInfo& dev, cudaStream_t stream) {
    const int64_t p = a.h * a.w;
    const int64_t columns = a.n * p;
    const bool grad = a.grad_student != nullptr;

    const ColumnTile map_tile = column_tile(a.cs > a.ct ? a.cs : a.ct);
    const int map_threads = map_tile.threads();
    const size_t map_smem = 2 * static_cast<size_t>(map_threads) * sizeof(double);
    const int map_grid = grid_size(ceil_div(columns, map_tile.cols),
                                   resident_blocks(dev, maps_kernel<kPow>, map_threads, map_smem));

    const int distance_cap = resident_blocks(dev, distance_kernel, kThreads, 0);
    int64_t chunks = ceil_div(distance_cap, a.n);
    const int64_t max_chunks = ceil_div(p, kMinPositionChunk);
    if (chunks > max_chunks) chunks = max_chunks;
    if (chunks < 1) chunks = 1;
    const int64_t chunk = ceil_div(p, chunks);
    chunks = ceil_div(p, chunk);
    const int64_t items = a.n * chunks;
    const int norm_grid = grid_size(items, resident_blocks(dev, norm_kernel, kThreads, 0));
    const int distance_grid = grid_size(items, distance_cap);

    ScratchLayout layout;
    const size_t as_at = layout.add<double>(columns);
    const size_t at_at = layout.add<double>(columns);
    const size_t squares_at = layout.add<double2>(items);
    const size_t de_at = layout.add<double2>(items);
    const size_t coef_at = layout.add<SampleCoef>(a.n);
    const size_t counter_at = layout.add<unsigned int>(1);
    Scratch scratch(stream);
    cudaError_t err = scratch.allocate(dev, layout.bytes);
    if (err != cudaSuccess) return fail(kFn, "scratch allocation", err);
    double* as = scratch.at<double>(as_at);
    double* at = scratch.at<double>(at_at);
    double2* squares = scratch.at<double2>(squares_at);
    SampleCoef* coef = scratch.at<SampleCoef>(coef_at);
    unsigned int* counter = scratch.at<unsigned int>(counter_at);

    maps_kernel<kPow><<<map_grid, map_threads, map_smem, stream>>>(
        a.student, a.cs, a.teacher, a.ct, p, columns, map_tile.cols, map_tile.groups, a.pool_p, as,
        at, counter);
    dt_status status = check_launch(kFn, "launch of maps_kernel");
    if (status != DT_OK) return status;
    norm_kernel<<<norm_grid, kThreads, 0, stream>>>(as, at, p, chunk, chunks, items, squares);
    if ((status = check_launch(kFn, "launch of norm_kernel")) != DT_OK) return status;
    distance_kernel<<<distance_grid, kThreads, 0, stream>>>(
        as, at, a.n, p, chunk, chunks, items, squares, scratch.at<double2>(de_at), coef,
        static_cast<double>(a.eps), a.distance, static_cast<double>(a.grad_scale), counter, a.loss);
    if ((status = check_launch(kFn, "launch of distance_kernel")) != DT_OK) return status;
    if (!grad) return DT_OK;

    const ColumnTile grad_tile = column_tile(a.cs);
    const int grad_threads = grad_tile.threads();
    const int grad_grid = grid_size(ceil_div(columns, grad_tile.cols),
                                    resident_blocks(dev, grad_kernel<kPow>, grad_threads, 0));
    grad_kernel<kPow><<<grad_grid, grad_threads, 0, stream>>>(
        a.student, a.cs, as, at, coef, p, columns, grad_tile.cols, grad_tile.groups, a.pool_p,
        a.grad_student);
    return check_launch(kFn, "launch of grad_kernel");
}

}  // namespace

dt_status attention_transfer(const AttentionTransferArgs& a, void* stream_handle) {
    const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
    DeviceInfo dev;
    const cudaError_t err = current_device(&dev);
    if (err != cudaSuccess) return fail(kFn, "device query", err);
    if (a.pool_p == 2.0f) return run<kPowTwo>(a, dev, stream);
    if (a.pool_p == 1.0f) return run<kPowOne>(a, dev, stream);
    return run<kPowGeneral>(a, dev, stream);
}

}  // namespace cuda
}  // namespace dt
