// Soft-target cross entropy with temperature (docs/design.md section 3.3), logits (N, K, P):
//   L    = 1/(N*P) * sum_{n,p} -sum_k softmax(t/T)_k * log_softmax(s/T)_k
//   grad = grad_scale * (softmax(s/T) - softmax(t/T)) / (T*N*P)
// Per position, with z^s_k = (s_k - max s)/T and z^t_k = (t_k - max t)/T (max subtraction keeps
// exp in range for logits of any magnitude):
//   Z_s = sum_k e^{z^s_k},  Z_t = sum_k e^{z^t_k},  log_softmax(s/T)_k = z^s_k - log Z_s
//   loss = log Z_s - (sum_k e^{z^t_k} z^s_k) / Z_t
// Both terms are >= 0 (z^s <= 0, Z_s >= 1), so nothing cancels. The exponentials (the bulk of the
// work) are kept in a per-thread buffer for the gradient pass, or computed again when a row or
// block would need more than kMaxRangeScratch doubles.
//
// P > 1 (segmentation): logits of one position are strided by P, so the loops run over k outer
// and a block of positions inner (contiguous, vectorised), with per-position accumulators.
// P == 1 (classification): the K logits of a row are contiguous. With K >= 32 the loops run over
// k; with fewer classes (K = 10 is the common case) blocks of rows are transposed and handled as
// positions, since a 10-long loop does not fill 8-wide vectors.
#include <algorithm>
#include <cmath>

#include "dt_internal.h"
#include "kernel_math.h"
#include "parallel.h"

namespace dt {
namespace cpu {

namespace {

// Non-finite inputs propagate to the loss (dreamteacher.h). A NaN or +Inf logit does so by itself
// (through the max subtraction), and so does a student -Inf (its log-softmax term is -Inf), but a
// teacher -Inf would not: exp_nonpos clamps its exponential to e^-708 and the loss stays finite.
// So "+ 0.0 * zt" is added to each student z: it is +-0 for a finite teacher logit, which leaves
// zs's value and bits unchanged (zs <= 0, and -0 + -0 = -0, +0 + -0 = +0 give the same results
// below), and NaN for a teacher -Inf (or NaN), which then reaches Z_s and the loss.
//
// Elements per parallel range: exp-bound, so smaller than kGrain is still cheap to hand out.
constexpr int64_t kCeGrain = kGrain / 4;

// ---------------------------------------------------------------------------------------------
// Blocks of positions, k outer: P > 1, and P == 1 with few classes (rows transposed into a block)
// ---------------------------------------------------------------------------------------------

constexpr int64_t kMaxBlock = 256;

// Positions per block: a multiple of 16 floats (whole cache lines) with ~16K logits per block so
// that the block (student and teacher) stays in L2 across the three passes; at most P.
int64_t position_block(int64_t k, int64_t positions) {
    const int64_t block = std::max<int64_t>(16, (16384 / k) / 16 * 16);
    return std::min({block, kMaxBlock, positions});
}

// Positions [0, len) of one block; s and t point at (sample, k = 0, first position of the block),
// class q of position p is at q * positions + p.
// `stored` (2*k*len doubles, or nullptr) keeps the exponentials for the gradient; without it they
// are computed again.
template <bool kGrad>
DT_HOT double block_loss(const float* s, const float* t, int64_t k, int64_t positions,
                         int64_t len, double inv_tau, double coef, double* stored, float* grad) {
    double ms[kMaxBlock], mt[kMaxBlock], z_s[kMaxBlock], z_t[kMaxBlock], dot[kMaxBlock];
    double es_row[kMaxBlock], et_row[kMaxBlock];  // the exponentials of one class when not stored
    const double z_min = exp_floor();
    for (int64_t p = 0; p < len; ++p) {
        ms[p] = s[p];
        mt[p] = t[p];
    }
    for (int64_t q = 1; q < k; ++q) {
        const float* sq = s + q * positions;
        const float* tq = t + q * positions;
        for (int64_t p = 0; p < len; ++p) {
            ms[p] = sq[p] > ms[p] ? sq[p] : ms[p];
            mt[p] = tq[p] > mt[p] ? tq[p] : mt[p];
        }
    }
    for (int64_t p = 0; p < len; ++p) {
        z_s[p] = 0.0;
        z_t[p] = 0.0;
        dot[p] = 0.0;
    }
    for (int64_t q = 0; q < k; ++q) {
        const float* sq = s + q * positions;
        const float* tq = t + q * positions;
        double* es = stored ? stored + q * len : es_row;
        double* et = stored ? stored + (k + q) * len : et_row;
        for (int64_t p = 0; p < len; ++p) {
            const double zt = (static_cast<double>(tq[p]) - mt[p]) * inv_tau;
            const double zs = (static_cast<double>(sq[p]) - ms[p]) * inv_tau + 0.0 * zt;  // non-finite note above
            es[p] = exp_nonpos(zs, z_min);
            et[p] = exp_nonpos(zt, z_min);
            z_s[p] += es[p];
            z_t[p] += et[p];
            dot[p] += et[p] * zs;
        }
    }
    double loss = 0.0;
    for (int64_t p = 0; p < len; ++p) loss += std::log(z_s[p]) - dot[p] / z_t[p];
    if (kGrad) {
        // z_s, z_t become the factors coef / Z.
        for (int64_t p = 0; p < len; ++p) {
            z_s[p] = coef / z_s[p];
            z_t[p] = coef / z_t[p];
        }
        for (int64_t q = 0; q < k; ++q) {
            const float* sq = s + q * positions;
            const float* tq = t + q * positions;
            float* gq = grad + q * positions;
            if (stored) {
                const double* es = stored + q * len;
                const double* et = stored + (k + q) * len;
                for (int64_t p = 0; p < len; ++p)
                    gq[p] = static_cast<float>(es[p] * z_s[p] - et[p] * z_t[p]);
            } else {
                for (int64_t p = 0; p < len; ++p) {
                    const double zs = (static_cast<double>(sq[p]) - ms[p]) * inv_tau;
                    const double zt = (static_cast<double>(tq[p]) - mt[p]) * inv_tau;
                    const double es = exp_nonpos(zs, z_min), et = exp_nonpos(zt, z_min);
                    gq[p] = static_cast<float>(es * z_s[p] - et * z_t[p]);
                }
            }
        }
    }
    return loss;
}

// ---------------------------------------------------------------------------------------------
// P == 1: rows of K contiguous logits
// ---------------------------------------------------------------------------------------------

// Lanes of the row max (floats) and of the row sums (doubles): fewer than kLanes, because a row pays
// for initialising and folding its lanes, and rows may be as short as kSmallK. The inner loops over
// the lanes are kept as loops ("unroll 1"): fully unrolled, gcc turned the row max into scalar
// maxss and the sums into shuffles and a serial chain of scalar adds; as loops they vectorise into
// plain vector max and adds: (4096,1000) went from 7.1 to 4.6 ms on the 2-core build machine
// (benchmarks/native/ab.cpp, builds side by side, medians of 80 calls).
constexpr int kRowLanes = 16;
static_assert(kRowLanes * sizeof(float) == 64, "row_loss prefetches one cache line per kRowLanes classes");
// Classes per chunk of a row: a chunk's exponentials go through small arrays so that every loop is
// plain (and vectorises).
constexpr int64_t kRowChunk = 256;
static_assert(kRowChunk % kRowLanes == 0, "lane of class q must be q % kRowLanes in every chunk");

DT_INLINE double fold_row_lanes(const double* lane) {
    double total = 0.0;
    for (int j = 0; j < kRowLanes; ++j) total += lane[j];
    return total;
}

DT_INLINE float row_max(const float* x, int64_t k) {
    float lane[kRowLanes];
    for (int j = 0; j < kRowLanes; ++j) lane[j] = x[0];
    int64_t i = 0;
    for (; i + kRowLanes <= k; i += kRowLanes) {
#pragma GCC unroll 1
        for (int j = 0; j < kRowLanes; ++j) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    }
    for (; i < k; ++i) lane[0] = x[i] > lane[0] ? x[i] : lane[0];
    float m = lane[0];
    for (int j = 1; j < kRowLanes; ++j) m = lane[j] > m ? lane[j] : m;
    return m;
}

// Loss of one row; its gradient (coef = grad_scale / (T*N*P)) when kGrad. `stored` (2k doubles, or
// nullptr) keeps the row's exponentials for the gradient; without it they are computed again.
// s_next, t_next: the row that comes next, prefetched while this one is computed. Without this the
// row max, the first read of each row, waits on memory (a quarter of the samples of a profile at
// K = 1000); with it (4096,1000) went from 4.6 to 4.1 ms, measured as above. (The same prefetch
// of the next block in block_loss measured no faster, and is not done.)
template <bool kGrad>
DT_INLINE double row_loss(const float* s, const float* t, int64_t k, double inv_tau, double coef,
                          double z_min, double* stored, float* grad, const float* s_next,
                          const float* t_next) {
    const double ms = row_max(s, k), mt = row_max(t, k);
    double zs[kRowChunk], es_chunk[kRowChunk], et_chunk[kRowChunk];
    double lane_s[kRowLanes] = {0}, lane_t[kRowLanes] = {0}, lane_d[kRowLanes] = {0};
    for (int64_t q0 = 0; q0 < k; q0 += kRowChunk) {
        const int64_t len = std::min(kRowChunk, k - q0);
        double* es = stored ? stored + q0 : es_chunk;
        double* et = stored ? stored + k + q0 : et_chunk;
        for (int64_t j = 0; j < len; ++j) {
            const double zt = (static_cast<double>(t[q0 + j]) - mt) * inv_tau;
            zs[j] = (static_cast<double>(s[q0 + j]) - ms) * inv_tau + 0.0 * zt;  // non-finite note above
            es[j] = exp_nonpos(zs[j], z_min);
            et[j] = exp_nonpos(zt, z_min);
        }
        // Class q goes to lane q % kRowLanes, the row's last (k % kRowLanes) classes to lane 0.
        int64_t j = 0;
        for (; j + kRowLanes <= len; j += kRowLanes) {
            // One cache line of each next row (kRowLanes floats).
            __builtin_prefetch(s_next + q0 + j);
            __builtin_prefetch(t_next + q0 + j);
#pragma GCC unroll 1
            for (int l = 0; l < kRowLanes; ++l) {
                lane_s[l] += es[j + l];
                lane_t[l] += et[j + l];
                lane_d[l] += et[j + l] * zs[j + l];
            }
        }
        for (; j < len; ++j) {
            lane_s[0] += es[j];
            lane_t[0] += et[j];
            lane_d[0] += et[j] * zs[j];
        }
    }
    const double z_s = fold_row_lanes(lane_s), z_t = fold_row_lanes(lane_t);
    const double dot = fold_row_lanes(lane_d);
    if (kGrad) {
        const double cs = coef / z_s, ct = coef / z_t;
        if (stored) {
            for (int64_t q = 0; q < k; ++q)
                grad[q] = static_cast<float>(stored[q] * cs - stored[k + q] * ct);
        } else {
            for (int64_t q = 0; q < k; ++q) {
                const double e_s = exp_nonpos((static_cast<double>(s[q]) - ms) * inv_tau, z_min);
                const double e_t = exp_nonpos((static_cast<double>(t[q]) - mt) * inv_tau, z_min);
                grad[q] = static_cast<float>(e_s * cs - e_t * ct);
            }
        }
    }
    return std::log(z_s) - dot / z_t;
}

// Rows [b, e); returns the sum of their losses.
template <bool kGrad>
DT_HOT double row_range(const SoftTargetCeArgs& a, int64_t b, int64_t e, double inv_tau,
                        double coef) {
    const int64_t k = a.k;
    const double z_min = exp_floor();
    double* stored = kGrad ? range_scratch(static_cast<size_t>(2 * k)) : nullptr;
    double loss = 0.0;
    for (int64_t i = b; i < e; ++i) {
        const int64_t next = i + 1 < e ? i + 1 : i;  // (the last row prefetches itself: a no-op)
        loss += row_loss<kGrad>(a.student_logits + i * k, a.teacher_logits + i * k, k, inv_tau,
                                coef, z_min, stored, kGrad ? a.grad_student + i * k : nullptr,
                                a.student_logits + next * k, a.teacher_logits + next * k);
    }
    return loss;
}

// Rows [b, e) with K < kSmallK: too short to vectorise over k, so blocks of kRowBlock rows are
// transposed into (K, rows) buffers and go through block_loss, which vectorises over the rows.
constexpr int64_t kSmallK = 32;
constexpr int64_t kRowBlock = 64;

template <bool kGrad>
DT_HOT double transposed_rows(const SoftTargetCeArgs& a, int64_t b, int64_t e, double inv_tau,
                              double coef) {
    const int64_t k = a.k;
    float s_t[kSmallK * kRowBlock], t_t[kSmallK * kRowBlock], g_t[kSmallK * kRowBlock];
    double* stored = kGrad ? range_scratch(static_cast<size_t>(2 * k * kRowBlock)) : nullptr;
    double loss = 0.0;
    for (int64_t r0 = b; r0 < e; r0 += kRowBlock) {
        const int64_t len = std::min(kRowBlock, e - r0);
        const float* s = a.student_logits + r0 * k;
        const float* t = a.teacher_logits + r0 * k;
        for (int64_t r = 0; r < len; ++r) {
            for (int64_t q = 0; q < k; ++q) {
                s_t[q * len + r] = s[r * k + q];
                t_t[q * len + r] = t[r * k + q];
            }
        }
        loss += block_loss<kGrad>(s_t, t_t, k, len, len, inv_tau, coef, stored, g_t);
        if (kGrad) {
            float* g = a.grad_student + r0 * k;
            for (int64_t r = 0; r < len; ++r)
                for (int64_t q = 0; q < k; ++q) g[r * k + q] = g_t[q * len + r];
        }
    }
    return loss;
}

template <bool kGrad>
double rows(const SoftTargetCeArgs& a, double inv_tau, double coef) {
    if (a.k < kSmallK) {
        // Ranges are whole blocks, so the blocks (and the sums) do not depend on the thread count.
        const int64_t blocks_per_range = std::max<int64_t>(1, kCeGrain / (a.k * kRowBlock));
        return parallel_sum(a.n, blocks_per_range * kRowBlock, [&](int64_t b, int64_t e) {
            return transposed_rows<kGrad>(a, b, e, inv_tau, coef);
        });
    }
    return parallel_sum(a.n, std::max<int64_t>(1, kCeGrain / a.k), [&](int64_t b, int64_t e) {
        return row_range<kGrad>(a, b, e, inv_tau, coef);
    });
}

template <bool kGrad>
double position_blocks(const SoftTargetCeArgs& a, double inv_tau, double coef) {
    const int64_t k = a.k, np = a.positions;
    const int64_t block = position_block(k, np);
    const int64_t blocks = (np - 1) / block + 1;  // per sample
    const int64_t grain = std::max<int64_t>(1, kCeGrain / (k * block));
    return parallel_sum(a.n * blocks, grain, [&](int64_t b, int64_t e) {
        double* stored = kGrad ? range_scratch(static_cast<size_t>(2 * k * block)) : nullptr;
        double loss = 0.0;
        for (int64_t task = b; task < e; ++task) {
            const int64_t i = task / blocks, p0 = (task % blocks) * block;
            const int64_t at = i * k * np + p0;
            loss += block_loss<kGrad>(a.student_logits + at, a.teacher_logits + at, k, np,
                                      std::min(block, np - p0), inv_tau, coef, stored,
                                      kGrad ? a.grad_student + at : nullptr);
        }
        return loss;
    });
}

}  // namespace

void soft_target_ce(const SoftTargetCeArgs& a) {
    const double tau = a.temperature;
    const double inv_tau = 1.0 / tau;
    const double rows_total = static_cast<double>(a.n) * static_cast<double>(a.positions);
    const double coef = static_cast<double>(a.grad_scale) / (tau * rows_total);
    const bool grad = a.grad_student != nullptr;
    double sum;
    if (a.positions == 1)
        sum = grad ? rows<true>(a, inv_tau, coef) : rows<false>(a, inv_tau, coef);
    else
        sum = grad ? position_blocks<true>(a, inv_tau, coef)
                   : position_blocks<false>(a, inv_tau, coef);
    *a.loss = static_cast<float>(sum / rows_total);
}

}  // namespace cpu
}  // namespace dt
