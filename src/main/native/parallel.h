// A small persistent thread pool for the CPU kernels (std::thread, no OpenMP: libtorch brings its
// own libgomp into the same process, and two OpenMP runtimes in one process fight over the cores).
//
// Determinism: parallel_for(count, grain, fn) always calls fn on the same ranges
//     [0, grain), [grain, 2*grain), ..., [k*grain, count)
// whatever the number of threads; only which thread runs a range changes. A kernel that keeps one
// partial sum per range and adds the partials in range order therefore gets bit-identical results
// for any thread count.
#ifndef DT_PARALLEL_H
#define DT_PARALLEL_H

#include <cstdint>
#include <memory>
#include <type_traits>

namespace dt {

// Threads used by the CPU kernels, the calling thread included. Default: the environment variable
// DT_NUM_THREADS if it is a positive integer, else std::thread::hardware_concurrency()
// (at least 1).
int32_t num_threads();
// n <= 0 restores the default; values above kMaxThreads are clamped to it.
void set_num_threads(int32_t n);
constexpr int32_t kMaxThreads = 256;

namespace detail {
using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);
// Runs fn(ctx, b, e) over the ranges of [0, count) (nranges > 1) on up to num_threads() threads and
// returns when all are done. Falls back to running them in order on the calling thread when the
// pool is busy (another application thread, or a nested call from inside a range).
void run_ranges(int64_t count, int64_t grain, int64_t nranges, RangeFn fn, void* ctx);
}  // namespace detail

// Number of ranges parallel_for(count, grain, ...) calls fn on (0 when count <= 0).
inline int64_t num_ranges(int64_t count, int64_t grain) {
    if (count <= 0) return 0;
    if (grain < 1) grain = 1;
    return (count - 1) / grain + 1;
}

// Calls fn(begin, end) for every range of [0, count) (see above). fn must not throw. Range r is
// [r*grain, min(count, (r+1)*grain)), so a range's index is begin / grain.
template <class F>
void parallel_for(int64_t count, int64_t grain, F&& fn) {
    if (count <= 0) return;
    if (grain < 1) grain = 1;
    const int64_t nranges = num_ranges(count, grain);
    if (nranges == 1 || num_threads() == 1) {
        // Inline: no pool, no locks, no allocation; this is the path of every small call.
        for (int64_t b = 0;;) {
            const int64_t e = count - b > grain ? b + grain : count;  // no overflow near INT64_MAX
            fn(b, e);
            if (e == count) return;
            b = e;
        }
    }
    using Fn = std::remove_reference_t<F>;
    auto thunk = [](void* ctx, int64_t b, int64_t e) { (*static_cast<Fn*>(ctx))(b, e); };
    detail::run_ranges(count, grain, nranges, thunk,
                       const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
}

}  // namespace dt

#endif  // DT_PARALLEL_H
