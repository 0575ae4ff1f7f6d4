// The C ABI of dreamteacher.h: argument checks (the only place they happen on the native side),
// thread-local error messages, and dispatch to the CPU (dt::cpu) or CUDA (dt::cuda) kernels.
// Every check runs before anything is written, so a rejected call leaves all outputs untouched.

#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <cstdint>
#include <new>

#include "dreamteacher.h"
#include "dt_internal.h"
#include "parallel.h"

#ifndef DT_VERSION
#define DT_VERSION "0.0.0-dev"
#endif

namespace dt {

namespace {
thread_local char last_error[512] = "";
}

void set_error(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

namespace {

// Each check returns false after recording "<function>: argument '<name>' ...".
bool require_pointer(const char* fn, const char* name, const void* p) {
    if (p != nullptr) return true;
    set_error("%s: argument '%s' must not be null", fn, name);
    return false;
}

bool require_positive(const char* fn, const char* name, int64_t v) {
    if (v > 0) return true;
    set_error("%s: argument '%s' must be > 0 (got %lld)", fn, name, static_cast<long long>(v));
    return false;
}

bool require_finite_positive(const char* fn, const char* name, float v) {
    if (std::isfinite(v) && v > 0.0f) return true;
    set_error("%s: argument '%s' must be finite and > 0 (got %g)", fn, name, static_cast<double>(v));
    return false;
}

bool require_finite(const char* fn, const char* name, float v) {
    if (std::isfinite(v)) return true;
    set_error("%s: argument '%s' must be finite (got %g)", fn, name, static_cast<double>(v));
    return false;
}

// The element count of a tensor must fit in int64 and its byte size in the address space.
bool require_element_count(const char* fn, const char* names, const int64_t* dims, int count) {
    const int64_t limit = INT64_MAX / static_cast<int64_t>(sizeof(float));
    int64_t total = 1;
    for (int i = 0; i < count; ++i) {
        if (total > limit / dims[i]) {
            set_error("%s: arguments '%s' overflow: the tensor would hold more than %lld elements",
                      fn, names, static_cast<long long>(limit));
            return false;
        }
        total *= dims[i];
    }
    return true;
}

// Outputs must not overlap the inputs or each other (the kernels read inputs after writing outputs,
// and the CUDA kernels declare their pointers __restrict__). A cheap byte-range test, run after the
// element counts are known to fit; outputs that are null (grad: forward only) are skipped.
struct Range {
    const char* name;
    const void* p;
    int64_t floats;
};

bool overlaps(const Range& a, const Range& b) {
    if (a.p == nullptr || b.p == nullptr) return false;
    const uintptr_t a0 = reinterpret_cast<uintptr_t>(a.p), b0 = reinterpret_cast<uintptr_t>(b.p);
    const uintptr_t a1 = a0 + static_cast<uintptr_t>(a.floats) * sizeof(float);
    const uintptr_t b1 = b0 + static_cast<uintptr_t>(b.floats) * sizeof(float);
    return a0 < b1 && b0 < a1;
}

// outputs: loss, grad; inputs: the rest.
bool require_no_aliasing(const char* fn, const Range& loss, const Range& grad, const Range& in0,
                         const Range& in1) {
    const Range* pairs[][2] = {{&loss, &in0}, {&loss, &in1}, {&loss, &grad}, {&grad, &in0}, {&grad, &in1}};
    for (const auto& pr : pairs) {
        if (overlaps(*pr[0], *pr[1])) {
            set_error("%s: argument '%s' overlaps argument '%s': outputs must not alias inputs or each other",
                      fn, pr[0]->name, pr[1]->name);
            return false;
        }
    }
    return true;
}

bool check(const char* fn, const WhitenedMseArgs& a) {
    const int64_t dims[] = {a.n, a.c, a.h, a.w};
    return require_pointer(fn, "student", a.student) && require_pointer(fn, "teacher", a.teacher) &&
           require_pointer(fn, "loss", a.loss) && require_positive(fn, "n", a.n) &&
           require_positive(fn, "c", a.c) && require_positive(fn, "h", a.h) &&
           require_positive(fn, "w", a.w) && require_element_count(fn, "n, c, h, w", dims, 4) &&
           (a.mode == DT_WHITEN_PER_SAMPLE || a.mode == DT_WHITEN_PER_PIXEL ||
            (set_error("%s: argument 'mode' must be 0 (per sample) or 1 (per pixel) (got %d)", fn,
                       static_cast<int>(a.mode)),
             false)) &&
           require_finite_positive(fn, "eps", a.eps) && require_finite(fn, "grad_scale", a.grad_scale) &&
           require_no_aliasing(fn, {"loss", a.loss, 1}, {"grad_student", a.grad_student, a.n * a.c * a.h * a.w},
                               {"student", a.student, a.n * a.c * a.h * a.w}, {"teacher", a.teacher, a.n * a.c * a.h * a.w});
}

bool check(const char* fn, const AttentionTransferArgs& a) {
    const int64_t student_dims[] = {a.n, a.cs, a.h, a.w};
    const int64_t teacher_dims[] = {a.n, a.ct, a.h, a.w};
    return require_pointer(fn, "student", a.student) && require_pointer(fn, "teacher", a.teacher) &&
           require_pointer(fn, "loss", a.loss) && require_positive(fn, "cs", a.cs) &&
           require_positive(fn, "ct", a.ct) && require_positive(fn, "n", a.n) &&
           require_positive(fn, "h", a.h) && require_positive(fn, "w", a.w) &&
           require_element_count(fn, "n, cs, h, w", student_dims, 4) &&
           require_element_count(fn, "n, ct, h, w", teacher_dims, 4) &&
           require_finite_positive(fn, "pool_p", a.pool_p) &&
           (a.distance == DT_AT_SQUARED || a.distance == DT_AT_NORM ||
            (set_error("%s: argument 'distance' must be 0 (squared) or 1 (norm) (got %d)", fn,
                       static_cast<int>(a.distance)),
             false)) &&
           require_finite_positive(fn, "eps", a.eps) && require_finite(fn, "grad_scale", a.grad_scale) &&
           require_no_aliasing(fn, {"loss", a.loss, 1}, {"grad_student", a.grad_student, a.n * a.cs * a.h * a.w},
                               {"student", a.student, a.n * a.cs * a.h * a.w}, {"teacher", a.teacher, a.n * a.ct * a.h * a.w});
}

bool check(const char* fn, const SoftTargetCeArgs& a) {
    const int64_t dims[] = {a.n, a.k, a.positions};
    return require_pointer(fn, "student_logits", a.student_logits) &&
           require_pointer(fn, "teacher_logits", a.teacher_logits) &&
           require_pointer(fn, "loss", a.loss) && require_positive(fn, "n", a.n) &&
           require_positive(fn, "k", a.k) && require_positive(fn, "positions", a.positions) &&
           require_element_count(fn, "n, k, positions", dims, 3) &&
           require_finite_positive(fn, "temperature", a.temperature) &&
           require_finite(fn, "grad_scale", a.grad_scale) &&
           require_no_aliasing(fn, {"loss", a.loss, 1}, {"grad_student", a.grad_student, a.n * a.k * a.positions},
                               {"student_logits", a.student_logits, a.n * a.k * a.positions},
                               {"teacher_logits", a.teacher_logits, a.n * a.k * a.positions});
}

// ---- the optional non-finite input check ----------------------------------------------------------

// -1: not read yet (DT_CHECK_FINITE decides on first use), 0: off, 1: on.
std::atomic<int> g_check_finite{-1};

bool check_finite_enabled() {
    int v = g_check_finite.load(std::memory_order_relaxed);
    if (v < 0) {
        const char* env = std::getenv("DT_CHECK_FINITE");
        int initial = env != nullptr && std::strcmp(env, "1") == 0 ? 1 : 0;
        g_check_finite.compare_exchange_strong(v, initial, std::memory_order_relaxed);
        v = g_check_finite.load(std::memory_order_relaxed);
    }
    return v == 1;
}

inline bool non_finite_bits(uint32_t bits) { return (bits & 0x7f800000u) == 0x7f800000u; }

// Flat index of the first NaN or Inf among x[0, count), or -1. Blocks are first tested with a
// branch-free OR of the exponent tests (vectorised), the failing block is then searched.
int64_t first_non_finite(const float* x, int64_t count) {
    constexpr int64_t kBlock = 1024;
    for (int64_t b = 0; b < count; b += kBlock) {
        const int64_t len = count - b < kBlock ? count - b : kBlock;
        uint32_t any = 0;
        for (int64_t i = 0; i < len; ++i) {
            uint32_t bits;
            std::memcpy(&bits, x + b + i, sizeof bits);
            any |= static_cast<uint32_t>(non_finite_bits(bits));
        }
        if (any == 0) continue;
        for (int64_t i = 0; i < len; ++i)
            if (!std::isfinite(x[b + i])) return b + i;
    }
    return -1;
}

// Records the DT_ERR_NON_FINITE message for x[index] of a tensor of `rank` dims named dim_names.
bool report_non_finite(const char* fn, const char* tensor, const float* x, int64_t index,
                       const int64_t* dims, const char* const* dim_names, int rank) {
    int64_t coord[4] = {0, 0, 0, 0};
    int64_t rest = index;
    for (int i = rank - 1; i >= 0; --i) {
        coord[i] = rest % dims[i];
        rest /= dims[i];
    }
    char where[160] = "";
    size_t used = 0;
    for (int i = 0; i < rank && used < sizeof where; ++i) {
        const int written = std::snprintf(where + used, sizeof where - used, "%s%s=%lld",
                                          i == 0 ? "" : ", ", dim_names[i],
                                          static_cast<long long>(coord[i]));
        if (written < 0) break;
        used += static_cast<size_t>(written);
    }
    const float v = x[index];
    const char* kind = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    set_error("%s: tensor '%s' holds a non-finite value (%s) at index %lld (%s)", fn, tensor, kind,
              static_cast<long long>(index), where);
    return false;
}

bool require_finite_tensor(const char* fn, const char* tensor, const float* x, const int64_t* dims,
                           const char* const* dim_names, int rank) {
    int64_t count = 1;
    for (int i = 0; i < rank; ++i) count *= dims[i];  // fits: require_element_count passed
    const int64_t bad = first_non_finite(x, count);
    return bad < 0 || report_non_finite(fn, tensor, x, bad, dims, dim_names, rank);
}

bool inputs_finite(const char* fn, const WhitenedMseArgs& a) {
    static const char* const names[] = {"n", "c", "h", "w"};
    const int64_t dims[] = {a.n, a.c, a.h, a.w};
    return require_finite_tensor(fn, "student", a.student, dims, names, 4) &&
           require_finite_tensor(fn, "teacher", a.teacher, dims, names, 4);
}

bool inputs_finite(const char* fn, const AttentionTransferArgs& a) {
    static const char* const student_names[] = {"n", "cs", "h", "w"};
    static const char* const teacher_names[] = {"n", "ct", "h", "w"};
    const int64_t student_dims[] = {a.n, a.cs, a.h, a.w};
    const int64_t teacher_dims[] = {a.n, a.ct, a.h, a.w};
    return require_finite_tensor(fn, "student", a.student, student_dims, student_names, 4) &&
           require_finite_tensor(fn, "teacher", a.teacher, teacher_dims, teacher_names, 4);
}

bool inputs_finite(const char* fn, const SoftTargetCeArgs& a) {
    static const char* const names[] = {"n", "k", "p"};
    const int64_t dims[] = {a.n, a.k, a.positions};
    return require_finite_tensor(fn, "student_logits", a.student_logits, dims, names, 3) &&
           require_finite_tensor(fn, "teacher_logits", a.teacher_logits, dims, names, 3);
}

// Runs a CPU kernel after the checks; no exception may cross the C boundary.
template <class Args, class Kernel>
dt_status run_cpu(const char* fn, const Args& a, Kernel kernel) {
    if (!check(fn, a)) return DT_ERR_INVALID_ARGUMENT;
    if (check_finite_enabled() && !inputs_finite(fn, a)) return DT_ERR_NON_FINITE;
    try {
        kernel(a);
    } catch (const std::bad_alloc&) {
        set_error("%s: out of memory", fn);
        return DT_ERR_UNSUPPORTED;
    } catch (...) {
        set_error("%s: unexpected internal error", fn);
        return DT_ERR_UNSUPPORTED;
    }
    last_error[0] = '\0';
    return DT_OK;
}

template <class Args, class Launcher>
dt_status run_cuda(const char* fn, const Args& a, void* stream, Launcher launch) {
    if (!check(fn, a)) return DT_ERR_INVALID_ARGUMENT;
    const char* why = "";
    if (!cuda::available(&why)) {
        set_error("%s: the cuda backend is unavailable: %s", fn, why);
        return DT_ERR_UNSUPPORTED;
    }
    try {
        const dt_status status = launch(a, stream);
        if (status == DT_OK) last_error[0] = '\0';
        return status;
    } catch (...) {
        set_error("%s: unexpected internal error", fn);
        return DT_ERR_CUDA;
    }
}

}  // namespace
}  // namespace dt

extern "C" {

dt_status dt_whitened_mse_f32(const float* student, const float* teacher, int64_t n, int64_t c,
                              int64_t h, int64_t w, int32_t mode, float eps, float grad_scale,
                              float* loss, float* grad_student) {
    const dt::WhitenedMseArgs a{student, teacher, n, c, h, w, mode, eps, grad_scale, loss, grad_student};
    return dt::run_cpu("dt_whitened_mse_f32", a, dt::cpu::whitened_mse);
}

dt_status dt_attention_transfer_f32(const float* student, int64_t cs, const float* teacher,
                                    int64_t ct, int64_t n, int64_t h, int64_t w, float pool_p,
                                    int32_t distance, float eps, float grad_scale, float* loss,
                                    float* grad_student) {
    const dt::AttentionTransferArgs a{student, cs, teacher, ct, n, h, w, pool_p, distance,
                                      eps, grad_scale, loss, grad_student};
    return dt::run_cpu("dt_attention_transfer_f32", a, dt::cpu::attention_transfer);
}

dt_status dt_soft_target_ce_f32(const float* student_logits, const float* teacher_logits, int64_t n,
                                int64_t k, int64_t positions, float temperature, float grad_scale,
                                float* loss, float* grad_student) {
    const dt::SoftTargetCeArgs a{student_logits, teacher_logits, n, k, positions,
                                 temperature, grad_scale, loss, grad_student};
    return dt::run_cpu("dt_soft_target_ce_f32", a, dt::cpu::soft_target_ce);
}

dt_status dt_cuda_whitened_mse_f32(const float* student, const float* teacher, int64_t n, int64_t c,
                                   int64_t h, int64_t w, int32_t mode, float eps, float grad_scale,
                                   float* loss, float* grad_student, void* stream) {
    const dt::WhitenedMseArgs a{student, teacher, n, c, h, w, mode, eps, grad_scale, loss, grad_student};
    return dt::run_cuda("dt_cuda_whitened_mse_f32", a, stream, dt::cuda::whitened_mse);
}

dt_status dt_cuda_attention_transfer_f32(const float* student, int64_t cs, const float* teacher,
                                         int64_t ct, int64_t n, int64_t h, int64_t w, float pool_p,
                                         int32_t distance, float eps, float grad_scale, float* loss,
                                         float* grad_student, void* stream) {
    const dt::AttentionTransferArgs a{student, cs, teacher, ct, n, h, w, pool_p, distance,
                                      eps, grad_scale, loss, grad_student};
    return dt::run_cuda("dt_cuda_attention_transfer_f32", a, stream, dt::cuda::attention_transfer);
}

dt_status dt_cuda_soft_target_ce_f32(const float* student_logits, const float* teacher_logits,
                                     int64_t n, int64_t k, int64_t positions, float temperature,
                                     float grad_scale, float* loss, float* grad_student, void* stream) {
    const dt::SoftTargetCeArgs a{student_logits, teacher_logits, n, k, positions,
                                 temperature, grad_scale, loss, grad_student};
    return dt::run_cuda("dt_cuda_soft_target_ce_f32", a, stream, dt::cuda::soft_target_ce);
}

const char* dt_last_error(void) { return dt::last_error; }

const char* dt_version(void) { return DT_VERSION; }

int32_t dt_num_threads(void) { return dt::num_threads(); }

void dt_set_num_threads(int32_t n) { dt::set_num_threads(n); }

void dt_set_check_finite(int32_t on) { dt::g_check_finite.store(on != 0 ? 1 : 0, std::memory_order_relaxed); }

int32_t dt_check_finite(void) { return dt::check_finite_enabled() ? 1 : 0; }

int32_t dt_cuda_available(void) {
    const char* why = "";
    if (dt::cuda::available(&why)) return 1;
    dt::set_error("the cuda backend is unavailable: %s", why);
    return 0;
}

}  // extern "C"
