// Shared pieces of the libFuzzer targets of the C ABI (fuzz_<function>.cpp).
//
// Each target turns the fuzzer's bytes into one call: sizes (mostly small and valid, sometimes 0,
// negative, huge or overflowing), null or valid pointers, mode/distance flags (valid or not), scalar
// arguments and tensor values drawn from a mix of special values (NaN, +-Inf, +-0, denormals, FLT_MAX,
// 1e+-30, ...), raw bit patterns and ordinary numbers, the non-finite check on or off, and 1-3 CPU
// threads. Buffers are heap allocations of exactly the contract's size (AddressSanitizer catches any
// access past them). The target then asserts the contract (see check_* below) and aborts on a
// violation, which libFuzzer reports as a crash with the input that caused it.
#ifndef DT_FUZZ_COMMON_H
#define DT_FUZZ_COMMON_H

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "dreamteacher.h"

namespace fuzz {

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "CONTRACT VIOLATION: %s: %s\n", what, detail.c_str());
    std::abort();
}

#define FUZZ_ASSERT(cond, detail)              \
    do {                                       \
        if (!(cond)) fuzz::fail(#cond, detail); \
    } while (0)

// Reads the fuzzer's bytes; returns zeros once they run out.
class Input {
public:
    Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    uint32_t u32() {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(byte()) << (8 * i);
        return v;
    }
    uint64_t u64() { return static_cast<uint64_t>(u32()) | (static_cast<uint64_t>(u32()) << 32); }
    bool left() const { return pos_ < size_; }

    // A dimension: usually 1..limit, sometimes an invalid or overflowing value.
    int64_t dim(int64_t limit) {
        const uint8_t sel = byte();
        if (sel < 200) return 1 + static_cast<int64_t>(byte()) % limit;
        switch (sel % 8) {
            case 0: return 0;
            case 1: return -1;
            case 2: return INT64_MIN;
            case 3: return INT64_MAX;
            case 4: return int64_t(1) << 31;
            case 5: return int64_t(1) << 62;
            case 6: return -static_cast<int64_t>(u32());
            default: return static_cast<int64_t>(u64());
        }
    }

    // A float from a mix of special values, raw bits and ordinary numbers.
    float value() {
        static const float special[] = {
            0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 4.0f, 1e-5f, 1e-12f,
            std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
            std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
            std::numeric_limits<float>::min(), std::numeric_limits<float>::max(),
            -std::numeric_limits<float>::max(), 1e-30f, -1e-30f, 1e30f, -1e30f, 1e4f, -1e4f, 3e38f, 1e-40f};
        const uint8_t sel = byte();
        if (sel < 96) return (static_cast<int>(byte()) - 128) / 16.0f;  // ordinary: -8 .. 8
        if (sel < 192) return special[byte() % (sizeof special / sizeof special[0])];
        const uint32_t bits = u32();
        float v;
        std::memcpy(&v, &bits, sizeof v);
        return v;
    }

    // A buffer of exactly n floats (the fuzzer's values, then a repeating pattern of them).
    std::vector<float> values(int64_t n) {
        std::vector<float> v(static_cast<size_t>(n));
        const int64_t distinct = std::min<int64_t>(n, 64);
        for (int64_t i = 0; i < distinct; ++i) v[static_cast<size_t>(i)] = value();
        for (int64_t i = distinct; i < n; ++i) v[static_cast<size_t>(i)] = v[static_cast<size_t>(i % distinct)] * 0.75f;
        return v;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

// Product of dims if every dim is > 0 and the product fits the C ABI's limit (elements * 4 bytes
// in int64), else -1 (the C ABI must then reject the call).
inline int64_t checked_count(std::initializer_list<int64_t> dims) {
    const int64_t limit = INT64_MAX / static_cast<int64_t>(sizeof(float));
    int64_t total = 1;
    for (int64_t d : dims) {
        if (d <= 0 || total > limit / d) return -1;
        total *= d;
    }
    return total;
}

inline bool finite_positive(float v) { return std::isfinite(v) && v > 0.0f; }

inline bool all_finite(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return false;
    return true;
}

inline int64_t first_bad(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return i;
    return -1;
}

inline float max_abs(const float* x, int64_t n) {
    float m = 0.0f;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
    return m;
}

constexpr float kSentinel = -12345.5f;

// Output buffers filled with a sentinel, to see whether a rejected call wrote anything.
struct Outputs {
    std::vector<float> loss = std::vector<float>(1, kSentinel);
    std::vector<float> grad;
    explicit Outputs(int64_t grad_count) : grad(static_cast<size_t>(grad_count), kSentinel) {}
    bool untouched() const {
        auto same = [](float a) { return std::memcmp(&a, &kSentinel, sizeof a) == 0; };
        if (!same(loss[0])) return false;
        for (float g : grad)
            if (!same(g)) return false;
        return true;
    }
};

inline std::string message() { return dt_last_error(); }

// A rejected bad argument: DT_ERR_INVALID_ARGUMENT, a message naming `argument`, nothing written.
inline void check_rejected(const char* fn, dt_status status, const char* argument, const Outputs& out) {
    const std::string m = message();
    FUZZ_ASSERT(status == DT_ERR_INVALID_ARGUMENT,
                std::string(fn) + " returned " + std::to_string(status) + " for bad '" + argument + "': " + m);
    FUZZ_ASSERT(m.find(argument) != std::string::npos,
                std::string(fn) + ": message '" + m + "' does not name '" + argument + "'");
    FUZZ_ASSERT(out.untouched(), std::string(fn) + ": a rejected call wrote its outputs");
}

// The optional check caught a non-finite element: DT_ERR_NON_FINITE naming the tensor and index.
inline void check_non_finite_reported(const char* fn, dt_status status, const char* tensor, int64_t index,
                                      const Outputs& out) {
    const std::string m = message();
    const std::string want = std::string("tensor '") + tensor + "' holds a non-finite value (";
    const std::string at = " at index " + std::to_string(index) + " (";
    FUZZ_ASSERT(status == DT_ERR_NON_FINITE, std::string(fn) + " returned " + std::to_string(status) + ": " + m);
    FUZZ_ASSERT(m.find(want) != std::string::npos && m.find(at) != std::string::npos,
                std::string(fn) + ": message '" + m + "' should name " + tensor + at);
    FUZZ_ASSERT(out.untouched(), std::string(fn) + ": a call stopped by the check wrote its outputs");
}

// The run-time settings drawn from the input: threads and the non-finite check.
inline bool apply_settings(Input& in) {
    const uint8_t b = in.byte();
    dt_set_num_threads(1 + b % 3);
    const bool check = (b >> 2) % 4 == 0;  // on in a quarter of the runs
    dt_set_check_finite(check ? 1 : 0);
    return check;
}

// What every target checks of one drawn call, in the same order; the targets differ only in how they
// draw the arguments, which argument is bad, and what finite inputs must give (`finite_checks`).
//
// `cpu(s, t, loss, grad)` and `cuda(s, t, loss, grad)` make the call (the CUDA one on the default
// stream); null pointers are passed where the drawn input asks for them. `bad` names the first bad
// argument as the C ABI's message must ("" for a valid call). Valid calls get buffers of exactly
// count_s / count_t floats, rejected ones a single float (never read).
//   - A rejected call: DT_ERR_INVALID_ARGUMENT naming the argument, nothing written, from both entry points.
//   - With the non-finite check on and a non-finite input: DT_ERR_NON_FINITE naming the tensor and index.
//   - Otherwise DT_OK; a non-finite input gives a non-finite loss; finite inputs go to finite_checks(s, t,
//     loss, grad or nullptr); the forward-only call gives the same loss, bit for bit.
//   - Without a usable device the CUDA entry point refuses valid arguments and writes nothing.
struct Target {
    const char* cpu_name;      // "dt_whitened_mse_f32"
    const char* cuda_name;     // "dt_cuda_whitened_mse_f32"
    const char* student_name;  // the tensor names of the non-finite message
    const char* teacher_name;
};

struct Pointers {
    bool null_s, null_t, null_l, with_grad;
};

template <class Cpu, class Cuda, class FiniteChecks>
int run_call(Input& in, const Target& target, bool check, const char* bad, int64_t count_s, int64_t count_t,
             Pointers ptrs, Cpu&& cpu, Cuda&& cuda, FiniteChecks&& finite_checks) {
    const bool valid = bad[0] == '\0';
    // Keep the problem small: a valid call of more than 40,000 elements (a huge dimension that does
    // not overflow) is skipped, as its buffers could not be allocated.
    if (valid && (count_s > 40000 || count_t > 40000)) return 0;

    const int64_t len_s = valid ? count_s : 1, len_t = valid ? count_t : 1;
    std::vector<float> s = in.values(len_s), t = in.values(len_t);
    Outputs out(len_s);
    const float* sp = ptrs.null_s ? nullptr : s.data();
    const float* tp = ptrs.null_t ? nullptr : t.data();
    float* lp = ptrs.null_l ? nullptr : out.loss.data();
    float* gp = ptrs.with_grad ? out.grad.data() : nullptr;

    dt_status st = cpu(sp, tp, lp, gp);
    if (!valid) {
        check_rejected(target.cpu_name, st, bad, out);
        st = cuda(sp, tp, lp, gp);
        check_rejected(target.cuda_name, st, bad, out);
        return 0;
    }
    const int64_t bad_s = first_bad(s.data(), count_s), bad_t = first_bad(t.data(), count_t);
    if (check && (bad_s >= 0 || bad_t >= 0)) {
        check_non_finite_reported(target.cpu_name, st, bad_s >= 0 ? target.student_name : target.teacher_name,
                                  bad_s >= 0 ? bad_s : bad_t, out);
        return 0;
    }
    FUZZ_ASSERT(st == DT_OK, "status " + std::to_string(st) + ": " + message());
    const float loss = out.loss[0];
    if (bad_s >= 0 || bad_t >= 0) {
        FUZZ_ASSERT(!std::isfinite(loss), "a non-finite input gave the finite loss " + std::to_string(loss));
    } else {
        finite_checks(s, t, loss, gp);
    }
    float forward = kSentinel;
    FUZZ_ASSERT(cpu(sp, tp, &forward, nullptr) == DT_OK, message());
    FUZZ_ASSERT(std::memcmp(&forward, &loss, sizeof loss) == 0, "forward-only loss differs");
    if (!dt_cuda_available()) {
        Outputs cuda_out(1);
        st = cuda(sp, tp, cuda_out.loss.data(), nullptr);
        FUZZ_ASSERT(st == DT_ERR_UNSUPPORTED && cuda_out.untouched(), message());
    }
    return 0;
}

}  // namespace fuzz

#endif  // DT_FUZZ_COMMON_H
