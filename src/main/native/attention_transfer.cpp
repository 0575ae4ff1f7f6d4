// Attention transfer (docs/design.md section 3.2):
//   A(x)_{n,p} = sum_c |x_{n,c,p}|^pool_p          (an (N, P) map per tensor, P = H*W)
//   q_n        = A_n / max(||A_n||_2, eps)
//   SQUARED: L = 1/(N*P) * sum (q^s - q^t)^2     dL/dq^s = 2 (q^s - q^t) / (N*P)
//   NORM:    L = 1/N * sum_n ||q^s_n - q^t_n||_2  dL/dq^s = (q^s - q^t) / (N * ||q^s_n - q^t_n||),
//                                                0 where that norm is exactly 0
// Back through the normalisation (as torch's F.normalize, which divides by norm.clamp_min(eps):
// clamp_min passes the gradient to the norm where norm >= eps):
//   norm >= eps: dL/dA = (g - q * (q . g)) / norm,   otherwise dL/dA = g / eps
// and through the pooling: dA/dx = pool_p * |x|^(pool_p - 1) * sign(x), exactly 0 at x = 0.
// The teacher gets no gradient.
//
// Work plan: (1) pool student and teacher into double maps (scratch, N*P each), (2) per sample:
// norms, loss and dL/dA (written over the student's map), (3) the gradient, which needs the
// student again. Every value of (1) and (3) is computed independently per position, and every sum
// of (2) is a lane_sum over one sample, so the results do not depend on how the work is split.
#include <algorithm>
#include <cmath>

#include "dt_internal.h"
#include "kernel_math.h"
#include "parallel.h"

namespace dt {
namespace cpu {

namespace {

// Positions per block in the pooling and gradient loops (c outer, positions inner): the block's
// accumulators (4 KB) stay in L1 while the channels stream by.
constexpr int64_t kBlock = 512;

enum class Power { kOne, kTwo, kThree, kGeneral };

template <Power kPow>
DT_INLINE double pooled(float v, double pool_p) {
    if (kPow == Power::kTwo) return static_cast<double>(v) * v;  // exact in double
    if (kPow == Power::kOne) return std::fabs(static_cast<double>(v));
    if (kPow == Power::kThree) {
        const double x = v;
        return std::fabs(x) * x * x;
    }
    return std::pow(std::fabs(static_cast<double>(v)), pool_p);
}

// dA/dx * dA, with dA/dx = pool_p * |x|^(pool_p - 1) * sign(x) and 0 at x == 0.
template <Power kPow>
DT_INLINE double pooled_grad(float v, double d_a, double pool_p) {
    const double x = v;
    if (kPow == Power::kTwo) return 2.0 * d_a * x;
    if (kPow == Power::kThree) return 3.0 * d_a * (x * std::fabs(x));  // 3 x |x|, 0 at x == 0
    if (kPow == Power::kOne) {
        // sign(x), 0 at x == 0, from two selects between constants: gcc turns a nested select into
        // a branch, these two vectorise.
        const double positive = x > 0.0 ? 1.0 : 0.0;
        const double negative = x < 0.0 ? 1.0 : 0.0;
        return d_a * (positive - negative);
    }
    if (x == 0.0) return 0.0;
    const double slope = pool_p * std::pow(std::fabs(x), pool_p - 1.0);
    return x > 0.0 ? d_a * slope : -(d_a * slope);
}

// out[p] = sum_c pooled(x[c, p0 + p]) for p < len; x points at a sample, positions per channel.
template <Power kPow>
DT_HOT void pool_block(const float* x, int64_t c, int64_t positions, int64_t p0, int64_t len,
                       double pool_p, double* out) {
    for (int64_t p = 0; p < len; ++p) out[p] = 0.0;
    for (int64_t ch = 0; ch < c; ++ch) {
        const float* row = x + ch * positions + p0;
        for (int64_t p = 0; p < len; ++p) out[p] += pooled<kPow>(row[p], pool_p);
    }
}

template <Power kPow>
DT_HOT void grad_block(const float* x, int64_t c, int64_t positions, int64_t p0, int64_t len,
                       double pool_p, const double* d_a, float* grad) {
    for (int64_t ch = 0; ch < c; ++ch) {
        const float* row = x + ch * positions + p0;
        float* g = grad + ch * positions + p0;
        for (int64_t p = 0; p < len; ++p)
            g[p] = static_cast<float>(pooled_grad<kPow>(row[p], d_a[p], pool_p));
    }
}

struct Plan {
    const AttentionTransferArgs* a;
    int64_t positions;
    double pool_p, eps;
    double gcoef;  // grad_scale / (N*P) for SQUARED, grad_scale / N for NORM
    double* a_s;   // (N, P) student maps, then dL/dA_s
    double* a_t;   // (N, P) teacher maps
    double* loss;  // (N) per-sample loss sums
};

// Pools positions [p0, p0 + len) of sample i, student and teacher.
template <Power kPow>
void pool_sample_block(const Plan& pl, int64_t i, int64_t p0, int64_t len) {
    const AttentionTransferArgs& a = *pl.a;
    const int64_t at = i * pl.positions;
    pool_block<kPow>(a.student + i * a.cs * pl.positions, a.cs, pl.positions, p0, len, pl.pool_p,
                     pl.a_s + at + p0);
    pool_block<kPow>(a.teacher + i * a.ct * pl.positions, a.ct, pl.positions, p0, len, pl.pool_p,
                     pl.a_t + at + p0);
}

// Step (2) for sample i: its loss sum, and dL/dA_s over its student map when grad.
void sample_distance(const Plan& pl, int64_t i, bool grad) {
    const int64_t np = pl.positions;
    double* as = pl.a_s + i * np;
    const double* at = pl.a_t + i * np;
    const double norm_s = std::sqrt(lane_sum(np, [&](int64_t p) { return as[p] * as[p]; }));
    const double norm_t = std::sqrt(lane_sum(np, [&](int64_t p) { return at[p] * at[p]; }));
    const double den_s = std::max(norm_s, pl.eps), den_t = std::max(norm_t, pl.eps);
    const double diff2 = lane_sum(np, [&](int64_t p) {
        const double d = as[p] / den_s - at[p] / den_t;
        return d * d;
    });
    const bool squared = pl.a->distance == DT_AT_SQUARED;
    const double dist = squared ? diff2 : std::sqrt(diff2);
    pl.loss[i] = dist;
    if (!grad) return;

    // g = dL/dq_s, then dL/dA_s written over as[].
    double g_scale;  // g[p] = g_scale * (q_s[p] - q_t[p])
    if (squared)
        g_scale = 2.0 * pl.gcoef;
    else
        g_scale = dist > 0.0 ? pl.gcoef / dist : 0.0;
    if (norm_s >= pl.eps) {
        const double qg = lane_sum(np, [&](int64_t p) {
            const double qs = as[p] / den_s;
            return qs * (g_scale * (qs - at[p] / den_t));
        });
        for (int64_t p = 0; p < np; ++p) {
            const double qs = as[p] / den_s;
            const double g = g_scale * (qs - at[p] / den_t);
            as[p] = (g - qs * qg) / norm_s;
        }
    } else {
        for (int64_t p = 0; p < np; ++p) {
            const double g = g_scale * (as[p] / den_s - at[p] / den_t);
            as[p] = g / pl.eps;
        }
    }
}

template <Power kPow>
void grad_sample_block(const Plan& pl, int64_t i, int64_t p0, int64_t len) {
    const AttentionTransferArgs& a = *pl.a;
    const int64_t off = i * a.cs * pl.positions;
    grad_block<kPow>(a.student + off, a.cs, pl.positions, p0, len, pl.pool_p,
                     pl.a_s + i * pl.positions + p0, a.grad_student + off);
}

template <Power kPow>
void run(const Plan& pl) {
    const AttentionTransferArgs& a = *pl.a;
    const int64_t n = a.n, np = pl.positions;
    const bool grad = a.grad_student != nullptr;
    const int64_t per_sample = (a.cs * (grad ? 2 : 1) + a.ct) * np;  // elements touched
    const int64_t threads = num_threads();

    if (threads == 1 || n >= 4 * threads || n % threads == 0) {
        // Whole samples per task: the student is still in cache when its gradient is written.
        const int64_t grain = std::max<int64_t>(1, kGrain / per_sample);
        parallel_for(n, grain, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                for (int64_t p0 = 0; p0 < np; p0 += kBlock)
                    pool_sample_block<kPow>(pl, i, p0, std::min(kBlock, np - p0));
                sample_distance(pl, i, grad);
                if (grad)
                    for (int64_t p0 = 0; p0 < np; p0 += kBlock)
                        grad_sample_block<kPow>(pl, i, p0, std::min(kBlock, np - p0));
            }
        });
        return;
    }

    // Few samples: split each into position blocks so that all threads work.
    const int64_t blocks = (np - 1) / kBlock + 1;
    const int64_t tasks = n * blocks;
    const int64_t block_elems = std::max<int64_t>(1, (a.cs + a.ct) * std::min(kBlock, np));
    parallel_for(tasks, std::max<int64_t>(1, kGrain / block_elems), [&](int64_t b, int64_t e) {
        for (int64_t task = b; task < e; ++task) {
            const int64_t i = task / blocks, p0 = (task % blocks) * kBlock;
            pool_sample_block<kPow>(pl, i, p0, std::min(kBlock, np - p0));
        }
    });
    parallel_for(n, std::max<int64_t>(1, kGrain / np), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) sample_distance(pl, i, grad);
    });
    if (!grad) return;
    const int64_t grad_elems = std::max<int64_t>(1, a.cs * std::min(kBlock, np));
    parallel_for(tasks, std::max<int64_t>(1, kGrain / grad_elems), [&](int64_t b, int64_t e) {
        for (int64_t task = b; task < e; ++task) {
            const int64_t i = task / blocks, p0 = (task % blocks) * kBlock;
            grad_sample_block<kPow>(pl, i, p0, std::min(kBlock, np - p0));
        }
    });
}

}  // namespace

void attention_transfer(const AttentionTransferArgs& a) {
    Plan pl;
    pl.a = &a;
    pl.positions = a.h * a.w;
    pl.pool_p = a.pool_p;
    pl.eps = a.eps;
    const double n = static_cast<double>(a.n);
    const double np = static_cast<double>(pl.positions);
    const double denom = a.distance == DT_AT_SQUARED ? n * np : n;
    pl.gcoef = static_cast<double>(a.grad_scale) / denom;
    const size_t maps = static_cast<size_t>(a.n * pl.positions);
    pl.a_s = scratch_doubles(2 * maps + static_cast<size_t>(a.n));
    pl.a_t = pl.a_s + maps;
    pl.loss = pl.a_t + maps;

    if (a.pool_p == 2.0f)
        run<Power::kTwo>(pl);
    else if (a.pool_p == 1.0f)
        run<Power::kOne>(pl);
    else if (a.pool_p == 3.0f)
        run<Power::kThree>(pl);
    else
        run<Power::kGeneral>(pl);

    double total = 0.0;
    for (int64_t i = 0; i < a.n; ++i) total += pl.loss[i];
    *a.loss = static_cast<float>(total / denom);
}

}  // namespace cpu
}  // namespace dt
