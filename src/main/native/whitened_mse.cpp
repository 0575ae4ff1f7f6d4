// Whitened MSE (docs/design.md section 3.1):
//   W(t) = (t - mu) / sqrt(var + eps)   (LayerNorm without affine parameters, biased variance)
//   L    = 1/(N*C*H*W) * sum (s - W(t))^2
//   grad = grad_scale * 2 * (s - W(t)) / (N*C*H*W)
// PER_SAMPLE takes mu, var over (C,H,W) of each sample, PER_PIXEL over C at each (n,h,w).
//
// Statistics in one read of the teacher: with a shift K close to the data,
//   mu = K + S1/n,  var = S2/n - (S1/n)^2,  S1 = sum (t-K),  S2 = sum (t-K)^2   (in double).
// The cancellation in var is harmless because K is an average of teacher values of the same group:
// then (K - mu)^2 <= (n/m) * var (m = values averaged into K), so var loses at most a factor ~n/m
// of double precision (~1e-10 relative at worst for the sizes used here), and an exactly constant
// teacher gives S1 = S2 = 0, var = 0 and W(t) = 0 exactly. This saves the extra pass over the
// teacher that the textbook two-pass (mean, then squared deviations) needs. Whitening itself is
// done in double: t - mu with |t| ~ 1e4 would lose digits in float.
#include <algorithm>
#include <cmath>

#include "dt_internal.h"
#include "kernel_math.h"
#include "parallel.h"

namespace dt {
namespace cpu {

namespace {

// ---------------------------------------------------------------------------------------------
// PER_SAMPLE
// ---------------------------------------------------------------------------------------------

// A sample is cut into chunks of kGrain elements; the chunk is the unit of the partial sums.
constexpr int64_t kChunk = kGrain;
// The shift K of a sample is the mean of its first kPilot values (or of all if fewer).
constexpr int64_t kPilot = 4096;

struct Moments {
    double s1, s2;  // sum (t-K), sum (t-K)^2 over a chunk
};

double pilot_shift(const float* t, int64_t count) {
    const int64_t m = std::min(count, kPilot);
    double lane[kLanes] = {0};
    int64_t i = 0;
    for (; i + kLanes <= m; i += kLanes)
        for (int j = 0; j < kLanes; ++j) lane[j] += t[i + j];
    for (; i < m; ++i) lane[0] += t[i];
    // For a constant sample this is exact (m * t fits in 53 bits), so t - K is exactly 0 below.
    return fold_lanes(lane) / static_cast<double>(m);
}

DT_HOT Moments chunk_moments(const float* t, int64_t count, double shift) {
    double l1[kLanes] = {0}, l2[kLanes] = {0};
    int64_t i = 0;
    for (; i + kLanes <= count; i += kLanes) {
        for (int j = 0; j < kLanes; ++j) {
            const double d = static_cast<double>(t[i + j]) - shift;
            l1[j] += d;
            l2[j] += d * d;
        }
    }
    for (; i < count; ++i) {
        const double d = static_cast<double>(t[i]) - shift;
        l1[0] += d;
        l2[0] += d * d;
    }
    return {fold_lanes(l1), fold_lanes(l2)};
}

struct Whitening {
    double mean, rstd;  // W(t) = (t - mean) * rstd
};

Whitening whitening_from(double shift, double s1, double s2, int64_t count, float eps) {
    const double inv_n = 1.0 / static_cast<double>(count);
    const double m1 = s1 * inv_n;
    const double var = std::max(0.0, s2 * inv_n - m1 * m1);
    return {shift + m1, 1.0 / std::sqrt(var + static_cast<double>(eps))};
}

// Loss partial of one chunk, and its gradient (coef = grad_scale * 2 / total) when kGrad.
template <bool kGrad>
DT_HOT double chunk_loss(const float* s, const float* t, int64_t count, Whitening wt,
                         double coef, float* grad) {
    double lane[kLanes] = {0};
    int64_t i = 0;
    for (; i + kLanes <= count; i += kLanes) {
        for (int j = 0; j < kLanes; ++j) {
            const double d =
                static_cast<double>(s[i + j]) - (static_cast<double>(t[i + j]) - wt.mean) * wt.rstd;
            lane[j] += d * d;
            if (kGrad) grad[i + j] = static_cast<float>(coef * d);
        }
    }
    for (; i < count; ++i) {
        const double d =
            static_cast<double>(s[i]) - (static_cast<double>(t[i]) - wt.mean) * wt.rstd;
        lane[0] += d * d;
        if (kGrad) grad[i] = static_cast<float>(coef * d);
    }
    return fold_lanes(lane);
}

// A whole sample on the calling thread: statistics and then the loss, while the sample is still in
// cache. Returns the sample's loss sum. Same chunks and same order as the chunked path below.
template <bool kGrad>
double sample_whole(const float* s, const float* t, int64_t count, float eps, double coef,
                    float* grad) {
    const double shift = pilot_shift(t, count);
    double s1 = 0.0, s2 = 0.0;
    for (int64_t b = 0; b < count; b += kChunk) {
        const Moments m = chunk_moments(t + b, std::min(kChunk, count - b), shift);
        s1 += m.s1;
        s2 += m.s2;
    }
    const Whitening wt = whitening_from(shift, s1, s2, count, eps);
    double loss = 0.0;
    for (int64_t b = 0; b < count; b += kChunk)
        loss += chunk_loss<kGrad>(s + b, t + b, std::min(kChunk, count - b), wt, coef,
                                  kGrad ? grad + b : nullptr);
    return loss;
}

template <bool kGrad>
double per_sample(const WhitenedMseArgs& a, double coef) {
    const int64_t n = a.n;
    const int64_t count = a.c * a.h * a.w;  // elements per sample
    const int64_t chunks = (count - 1) / kChunk + 1;
    const int64_t threads = num_threads();

    // Few big samples (fewer than the threads, or an uneven split): split each sample into chunks
    // so that all threads work, at the price of a second pass over the teacher from memory.
    // Otherwise one task per sample(s) keeps each sample in cache between its two passes. Both
    // paths produce the same chunk partials, added in the same order: identical results.
    const bool split_samples = chunks > 1 && threads > 1 && n < 4 * threads && n % threads != 0;
    if (!split_samples) {
        // A range of whole samples; when chunks > 1, grain is 1 sample and the range sum is the
        // sample's sum, exactly as in the split path.
        const int64_t grain = std::max<int64_t>(1, kGrain / count);
        return parallel_sum(n, grain, [&](int64_t b, int64_t e) {
            double loss = 0.0;
            for (int64_t i = b; i < e; ++i) {
                const int64_t at = i * count;
                loss += sample_whole<kGrad>(a.student + at, a.teacher + at, count, a.eps, coef,
                                            kGrad ? a.grad_student + at : nullptr);
            }
            return loss;
        });
    }

    // Split path: tasks are (sample, chunk) pairs. Scratch: shift per sample, moments and loss
    // partial per task, then mean and rstd per sample.
    const int64_t tasks = n * chunks;
    double* shift = scratch_doubles(static_cast<size_t>(n * 3 + tasks * 3));
    double* whiten = shift + n;         // 2 per sample
    double* moments = whiten + 2 * n;   // 2 per task
    double* partial = moments + 2 * tasks;

    for (int64_t i = 0; i < n; ++i) shift[i] = pilot_shift(a.teacher + i * count, count);  // small
    parallel_for(tasks, 1, [&](int64_t b, int64_t e) {
        for (int64_t task = b; task < e; ++task) {
            const int64_t i = task / chunks, off = (task % chunks) * kChunk;
            const Moments m = chunk_moments(a.teacher + i * count + off,
                                            std::min(kChunk, count - off), shift[i]);
            moments[2 * task] = m.s1;
            moments[2 * task + 1] = m.s2;
        }
    });
    for (int64_t i = 0; i < n; ++i) {
        double s1 = 0.0, s2 = 0.0;
        for (int64_t j = 0; j < chunks; ++j) {
            s1 += moments[2 * (i * chunks + j)];
            s2 += moments[2 * (i * chunks + j) + 1];
        }
        const Whitening wt = whitening_from(shift[i], s1, s2, count, a.eps);
        whiten[2 * i] = wt.mean;
        whiten[2 * i + 1] = wt.rstd;
    }
    parallel_for(tasks, 1, [&](int64_t b, int64_t e) {
        for (int64_t task = b; task < e; ++task) {
            const int64_t i = task / chunks, off = (task % chunks) * kChunk;
            const int64_t at = i * count + off;
            partial[task] = chunk_loss<kGrad>(a.student + at, a.teacher + at,
                                              std::min(kChunk, count - off),
                                              {whiten[2 * i], whiten[2 * i + 1]}, coef,
                                              kGrad ? a.grad_student + at : nullptr);
        }
    });
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double loss = 0.0;
        for (int64_t j = 0; j < chunks; ++j) loss += partial[i * chunks + j];
        total += loss;  // = 0.0 + loss of the sample, as in parallel_sum with a 1-sample grain
    }
    return total;
}

// ---------------------------------------------------------------------------------------------
// PER_PIXEL
// ---------------------------------------------------------------------------------------------

// Positions are processed in blocks; inside a block the loops run over c outer and positions
// inner, so the inner loops are contiguous and vectorise, and the block of the teacher (c * block
// floats, up to ~512 KB) is mostly still in cache for the second pass. Blocks of up to 2048
// positions give each channel a long contiguous run for the hardware prefetcher: with 512 the
// (16,64,64,64) case took 2.4 ms on the 2-core build machine, with 2048 1.5 ms. Per-position sums
// run over c in order. The block depends only on (c, positions), so the sums do not depend on the
// thread count.
constexpr int64_t kMaxBlock = 2048;
// Blocks of at least this many positions run the loss pass two channels at a time (see below).
constexpr int64_t kTwoChannelBlock = 2048;

int64_t pixel_block(int64_t c, int64_t positions) {
    const int64_t block = std::max<int64_t>(16, (kGrain * 4 / c) / 16 * 16);
    return std::min({block, kMaxBlock, positions});
}

// One block [p0, p0 + len) of sample-relative positions; returns the block's loss partial.
// The statistics loop is unrolled by 4 channels so that the per-position sums stay in registers
// across four channels (the additions still happen one channel at a time, in channel order); the
// same unrolling measured slower in the loss loop, which also writes the gradient.
template <bool kGrad>
DT_HOT double pixel_block_loss(const float* s, const float* t, int64_t c, int64_t positions,
                               int64_t len, float eps, double coef, float* grad) {
    double shift[kMaxBlock], s1[kMaxBlock], s2[kMaxBlock], loss[kMaxBlock];
    // The shift is the teacher's value at c = 0: (K - mu)^2 <= c * var (see the top of the file).
    for (int64_t p = 0; p < len; ++p) {
        shift[p] = t[p];
        s1[p] = 0.0;
        s2[p] = 0.0;
        loss[p] = 0.0;
    }
    int64_t ch = 1;  // channel 0 contributes exactly 0
    for (; ch + 4 <= c; ch += 4) {
        const float* t0 = t + ch * positions;
        const float* t1 = t0 + positions;
        const float* t2 = t1 + positions;
        const float* t3 = t2 + positions;
        for (int64_t p = 0; p < len; ++p) {
            const double d0 = static_cast<double>(t0[p]) - shift[p];
            const double d1 = static_cast<double>(t1[p]) - shift[p];
            const double d2 = static_cast<double>(t2[p]) - shift[p];
            const double d3 = static_cast<double>(t3[p]) - shift[p];
            s1[p] = (((s1[p] + d0) + d1) + d2) + d3;
            s2[p] = (((s2[p] + d0 * d0) + d1 * d1) + d2 * d2) + d3 * d3;
        }
    }
    for (; ch < c; ++ch) {
        const float* tc = t + ch * positions;
        for (int64_t p = 0; p < len; ++p) {
            const double d = static_cast<double>(tc[p]) - shift[p];
            s1[p] += d;
            s2[p] += d * d;
        }
    }
    // s1, s2 become mean and rstd.
    const double inv_c = 1.0 / static_cast<double>(c);
    for (int64_t p = 0; p < len; ++p) {
        const double m1 = s1[p] * inv_c;
        const double var = std::max(0.0, s2[p] * inv_c - m1 * m1);
        s1[p] = shift[p] + m1;
        s2[p] = 1.0 / std::sqrt(var + static_cast<double>(eps));
    }
    const double* mean = s1;
    const double* rstd = s2;
    // s - W(t) at position p of one channel's student and teacher rows.
    auto diff = [&](const float* s_row, const float* t_row, int64_t p) {
        return static_cast<double>(s_row[p]) - (static_cast<double>(t_row[p]) - mean[p]) * rstd[p];
    };
    // Long blocks: the per-position arrays (mean, rstd, loss: 24 bytes per position, 48 KB at 2048
    // positions) no longer fit in L1, and every channel's pass reloads them; passes over two channels
    // at a time halve that ((16,64,64,64): 2.33 -> 1.94 ms). Short blocks stay at one channel per pass:
    // there the two rows read side by side are 1 KB apart, which slowed (64,256,16,16) from 1.77 to
    // 2.38 ms (both measured with benchmarks/native/ab, medians of 100 calls). The additions into
    // loss[p] stay in channel order, so both ways give the same bits.
    ch = 0;
    if (len >= kTwoChannelBlock) {
        for (; ch + 2 <= c; ch += 2) {
            const float* s0 = s + ch * positions;
            const float* s1_row = s0 + positions;
            const float* t0 = t + ch * positions;
            const float* t1 = t0 + positions;
            float* g0 = kGrad ? grad + ch * positions : nullptr;
            float* g1 = kGrad ? g0 + positions : nullptr;
            for (int64_t p = 0; p < len; ++p) {
                const double d0 = diff(s0, t0, p);
                const double d1 = diff(s1_row, t1, p);
                loss[p] = (loss[p] + d0 * d0) + d1 * d1;
                if (kGrad) {
                    g0[p] = static_cast<float>(coef * d0);
                    g1[p] = static_cast<float>(coef * d1);
                }
            }
        }
    }
    for (; ch < c; ++ch) {
        const float* sc = s + ch * positions;
        const float* tc = t + ch * positions;
        float* gc = kGrad ? grad + ch * positions : nullptr;
        for (int64_t p = 0; p < len; ++p) {
            const double d = diff(sc, tc, p);
            loss[p] += d * d;
            if (kGrad) gc[p] = static_cast<float>(coef * d);
        }
    }
    double total = 0.0;
    for (int64_t p = 0; p < len; ++p) total += loss[p];
    return total;
}

template <bool kGrad>
double per_pixel(const WhitenedMseArgs& a, double coef) {
    const int64_t c = a.c, positions = a.h * a.w;
    const int64_t block = pixel_block(c, positions);
    const int64_t blocks = (positions - 1) / block + 1;  // per sample
    const int64_t tasks = a.n * blocks;
    const int64_t grain = std::max<int64_t>(1, kGrain / (c * block));
    return parallel_sum(tasks, grain, [&](int64_t b, int64_t e) {
        double loss = 0.0;
        for (int64_t task = b; task < e; ++task) {
            const int64_t i = task / blocks, p0 = (task % blocks) * block;
            const int64_t at = i * c * positions + p0;
            loss += pixel_block_loss<kGrad>(a.student + at, a.teacher + at, c, positions,
                                            std::min(block, positions - p0), a.eps, coef,
                                            kGrad ? a.grad_student + at : nullptr);
        }
        return loss;
    });
}

}  // namespace

void whitened_mse(const WhitenedMseArgs& a) {
    const double total = static_cast<double>(a.n * a.c * a.h * a.w);  // fits: checked by the C ABI
    const double coef = 2.0 * static_cast<double>(a.grad_scale) / total;
    const bool grad = a.grad_student != nullptr;
    double sum;
    if (a.mode == DT_WHITEN_PER_PIXEL)
        sum = grad ? per_pixel<true>(a, coef) : per_pixel<false>(a, coef);
    else
        sum = grad ? per_sample<true>(a, coef) : per_sample<false>(a, coef);
    *a.loss = static_cast<float>(sum / total);
}

}  // namespace cpu
}  // namespace dt
