// Helpers shared by the CPU kernels: deterministic parallel sums, per-thread scratch memory, and a
// vectorisable exp.
//
// Determinism rule used by every kernel: each floating-point sum is split into pieces whose
// boundaries depend only on the tensor shape (fixed chunk sizes, fixed lane counts), each piece
// is summed in a fixed order, and the pieces are added in index order. No piece boundary depends on
// the thread count, so the results are bit-identical for any number of threads.
#ifndef DT_KERNEL_MATH_H
#define DT_KERNEL_MATH_H

#include <cstdint>
#include <cstring>
#include <vector>

#include "parallel.h"

namespace dt {
namespace cpu {

// DT_HOT marks the functions that hold the hot loops: on x86-64 Linux with gcc they are compiled
// three times, for AVX-512F, for AVX2 and for the baseline ISA, and the dynamic loader picks the
// version for the CPU (function multiversioning through an ifunc), so the build needs no -march
// flag. On the 2-core AMD EPYC build machine the AVX2 version is ~1.5x faster than SSE2 on the
// double-precision loops, and AVX-512 up to 2x faster again on the exp-bound soft CE.
// The build compiles with -ffp-contract=off (CMakeLists.txt): AVX-512F has fused multiply-add, and gcc
// would contract a*b+c into it; without contraction every version performs the same IEEE operations
// in the same order, so the results are bit-identical whichever version runs. Hot functions
// process whole chunks or blocks, so the indirect call costs nothing measurable.
// -DDT_NO_MULTIVERSION turns this off (one baseline version).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__AVX2__) && !defined(DT_NO_MULTIVERSION)
#define DT_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DT_HOT
#endif

// Helpers called from DT_HOT functions: forced inline so that they are compiled into each version.
#define DT_INLINE inline __attribute__((always_inline))

// Elements per parallel range: big enough that handing out a range costs nothing measurable,
// small enough to balance the work of a 2-16 core machine on tensors of a few hundred K elements.
constexpr int64_t kGrain = 32768;

// Independent accumulators in the hot reduction loops. Without -ffast-math the compiler may not
// reorder a floating-point sum, so a single accumulator would serialise on the add latency;
// kLanes explicit lanes (folded in lane order at the end) let gcc use SIMD and are deterministic.
// 64 lanes are 8 independent chains even with 512-bit vectors: on the streaming sums of the
// whitened MSE they measured 2-2.5x faster than 8 lanes with AVX2 and AVX-512, and no slower
// with SSE2.
constexpr int kLanes = 64;

inline double fold_lanes(const double* lane) {
    double total = 0.0;
    for (int j = 0; j < kLanes; ++j) total += lane[j];
    return total;
}

// sum_{i < count} term(i) (a double) with kLanes lanes: term(i) goes to lane i % kLanes (the tail
// to lane 0), lanes added in order at the end.
template <class F>
double lane_sum(int64_t count, F&& term) {
    double lane[kLanes] = {0};
    int64_t i = 0;
    for (; i + kLanes <= count; i += kLanes)
        for (int j = 0; j < kLanes; ++j) lane[j] += term(i + j);
    for (; i < count; ++i) lane[0] += term(i);
    return fold_lanes(lane);
}

// Returns the sum over the parallel_for ranges of [0, count) of range_sum(begin, end) (a double),
// added in range order: deterministic for any thread count.
template <class F>
double parallel_sum(int64_t count, int64_t grain, F&& range_sum) {
    if (grain < 1) grain = 1;
    const int64_t nranges = num_ranges(count, grain);
    double local[64];
    std::vector<double> heap;  // only for more than 64 ranges, i.e. multi-million-element calls
    double* partial = local;
    if (nranges > 64) {
        heap.resize(static_cast<size_t>(nranges));
        partial = heap.data();
    }
    parallel_for(count, grain, [&](int64_t b, int64_t e) { partial[b / grain] = range_sum(b, e); });
    double total = 0.0;
    for (int64_t r = 0; r < nranges; ++r) total += partial[r];
    return total;
}

// Per-thread scratch of at least n doubles, reused across calls (grown, never shrunk) so that a
// loop of kernel calls does not allocate. One kernel call per thread uses it at a time (kernels do
// not call each other); the worker threads only write into the caller's buffer through the pointer.
inline double* scratch_doubles(size_t n) {
    thread_local std::vector<double> buffer;
    if (buffer.size() < n) {
        buffer.clear();
        buffer.shrink_to_fit();  // release the old block before asking for a bigger one
        buffer.resize(n);
    }
    return buffer.data();
}

// Scratch for the thread that runs a parallel range (each thread has its own, kept and reused
// across calls; a range uses it only while it runs). Returns nullptr for requests above
// kMaxRangeScratch doubles or when memory is short: callers then take a path without it. No
// exception may escape a range running on a pool thread.
constexpr size_t kMaxRangeScratch = size_t(1) << 16;  // 512 KB

inline double* range_scratch(size_t n) {
    if (n > kMaxRangeScratch) return nullptr;
    thread_local std::vector<double> buffer;
    if (buffer.size() < n) {
        try {
            buffer.resize(n);
        } catch (...) {
            return nullptr;
        }
    }
    return buffer.data();
}

// e^z for z <= 0 (softmax arguments after the max subtraction), within 2 ulp, and without branches
// so that loops calling it vectorise (std::exp is an opaque libm call, several times slower).
// Arguments below z_min (pass exp_floor(), i.e. -708) are clamped to it: e^-708 ~ 3.3e-308 (the
// smallest normal double) instead of a smaller number or 0 changes no sum that contains the max
// term e^0 = 1, and its product with any finite logit difference or gradient factor (< 1e84 here)
// stays below 1e-223, far under float's range. NaN gives NaN.
//
// Why z_min is a run-time value: with a constant clamp bound gcc sees that every result on the
// clamped path is a constant and splits the loop body into two branches, which stops vectorisation.
// (A "z < -708 ? 0 : y" select is no better: under the default -ftrapping-math, a select whose arm
// does arithmetic is compiled to a branch as well.)
inline double exp_floor() {
    static volatile double value = -708.0;  // volatile: opaque to the optimiser
    return value;
}

DT_INLINE double exp_nonpos(double z, double z_min) {
    const double zc = z < z_min ? z_min : z;
    // k = round(z / ln2) with the 1.5*2^52 trick: the integer ends up in the low mantissa bits.
    const double shifter = 0x1.8p52;
    const double k_shifted = zc * 0x1.71547652b82fep0 + shifter;
    uint64_t k_bits;
    std::memcpy(&k_bits, &k_shifted, sizeof k_bits);
    const double k = k_shifted - shifter;
    // r = z - k*ln2 in two steps (Cody-Waite): ln2_hi has trailing zero bits, so k*ln2_hi is exact.
    const double r = (zc - k * 0x1.62e42feep-1) - k * 0x1.a39ef35793c76p-33;  // |r| <= ln2/2
    // Taylor series to r^13 (truncation error below 1e-17 for |r| <= ln2/2), evaluated with
    // Estrin's scheme: a shallow tree instead of Horner's chain of 13 dependent multiply-adds, so
    // that successive elements overlap in the pipeline (~1.4x faster here, same accuracy).
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double a0 = 1.0 + r;                                  // 1/0! + r/1!
    const double a1 = 1.0 / 2.0 + r * (1.0 / 6.0);              // 1/2! + r/3!
    const double a2 = 1.0 / 24.0 + r * (1.0 / 120.0);           // 1/4! + r/5!
    const double a3 = 1.0 / 720.0 + r * (1.0 / 5040.0);         // ...
    const double a4 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    const double a5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    const double a6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    const double b0 = a0 + r2 * a1, b1 = a2 + r2 * a3, b2 = a4 + r2 * a5;
    const double p = (b0 + r4 * b1) + r8 * (b2 + r4 * a6);
    // 2^k built in the exponent field; k is in [-1021, 0] here (a tiny positive z gives k <= 1).
    const uint64_t scale_bits = (k_bits + 1023) << 52;
    double scale;
    std::memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale;
}

}  // namespace cpu
}  // namespace dt

#endif  // DT_KERNEL_MATH_H
