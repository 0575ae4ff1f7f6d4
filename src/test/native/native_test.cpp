// Native test program of the C ABI (dreamteacher.h), meant to run under AddressSanitizer and
// UndefinedBehaviorSanitizer (CMake option DT_SANITIZE, script src/test/native/run.sh).
//
// Every buffer is a heap allocation of exactly the size the contract says, so that a read or write
// one element past a tensor is reported by AddressSanitizer. It covers:
//   1. every kernel, many shapes (each code path: small and large K, P == 1 and P > 1, the four
//      attention powers, sizes above the parallel grain), forward only and with a gradient, against
//      a plain double-precision reference of the loss; the loss of a forward-only call equals the
//      loss of a call with a gradient; results bit-identical for 1, 2 and 5 threads;
//   2. every bad argument of the contract for the CPU and the CUDA entry points: status
//      DT_ERR_INVALID_ARGUMENT, a message naming the argument, outputs untouched;
//   3. the non-finite policy: a NaN, +Inf or -Inf input element gives a non-finite loss; with
//      dt_set_check_finite(1), DT_ERR_NON_FINITE naming the tensor and the first bad index, outputs
//      untouched; finite inputs give the same results with the check on;
//   4. extreme finite values (logits of magnitude 1e4 and 1e30, denormals, zeros) give finite losses;
//   5. several threads calling the kernels at once get the single-threaded results.
// Built with -DDT_TEST_CUDA_HOST_MEMORY against the CPU emulation of the CUDA kernels
// (src/test/native/run.sh cuda-emulated), it runs the non-finite cases through dt_cuda_* as well.
// Exit status 0 when every check passed; the failures are printed.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "dreamteacher.h"

namespace {

int g_failures = 0;
int g_checks = 0;
int g_cuda_cases = 0;  // non-finite cases also run through the (emulated) CUDA kernels

#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        ++g_checks;                                                        \
        if (!(cond)) {                                                     \
            ++g_failures;                                                  \
            std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            std::printf(__VA_ARGS__);                                      \
            std::printf("\n");                                             \
        }                                                                  \
    } while (0)

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();
const float kSentinel = -12345.5f;

// Deterministic pseudo-random numbers (SplitMix64).
struct Rng {
    uint64_t state;
    explicit Rng(uint64_t seed) : state(seed) {}
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    float gaussian(float scale) {
        const double u1 = uniform() + 1e-300, u2 = uniform();
        return static_cast<float>(scale * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    }
};

// A heap buffer of exactly `count` floats (ASan catches any access past it).
struct Buffer {
    float* data;
    int64_t count;
    explicit Buffer(int64_t n) : data(new float[static_cast<size_t>(n)]), count(n) {}
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { delete[] data; }
    void fill(float v) {
        for (int64_t i = 0; i < count; ++i) data[i] = v;
    }
    void gaussian(Rng& rng, float scale) {
        for (int64_t i = 0; i < count; ++i) data[i] = rng.gaussian(scale);
    }
    bool all(float v) const {
        for (int64_t i = 0; i < count; ++i)
            if (std::memcmp(&data[i], &v, sizeof v) != 0) return false;
        return true;
    }
    bool finite() const {
        for (int64_t i = 0; i < count; ++i)
            if (!std::isfinite(data[i])) return false;
        return true;
    }
    bool same_bits(const Buffer& o) const {
        return count == o.count && std::memcmp(data, o.data, sizeof(float) * static_cast<size_t>(count)) == 0;
    }
};

bool contains(const char* text, const char* part) { return std::strstr(text, part) != nullptr; }

double rel_err(double got, double want) {
    return std::fabs(got - want) / std::max(1e-30, std::fabs(want));
}

// ---- references in double ------------------------------------------------------------------------

double ref_whitened_mse(const float* s, const float* t, int64_t n, int64_t c, int64_t h, int64_t w, int mode,
                        double eps) {
    const int64_t p = h * w;
    double sum = 0.0;
    auto group = [&](int64_t first, int64_t count, int64_t stride) {
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < count; ++i) mean += t[first + i * stride];
        mean /= static_cast<double>(count);
        for (int64_t i = 0; i < count; ++i) {
            const double d = t[first + i * stride] - mean;
            var += d * d;
        }
        var /= static_cast<double>(count);
        const double rstd = 1.0 / std::sqrt(var + eps);
        for (int64_t i = 0; i < count; ++i) {
            const int64_t at = first + i * stride;
            const double d = s[at] - (t[at] - mean) * rstd;
            sum += d * d;
        }
    };
    for (int64_t i = 0; i < n; ++i) {
        if (mode == DT_WHITEN_PER_SAMPLE) {
            group(i * c * p, c * p, 1);
        } else {
            for (int64_t q = 0; q < p; ++q) group(i * c * p + q, c, p);
        }
    }
    return sum / static_cast<double>(n * c * p);
}

std::vector<double> ref_attention(const float* x, int64_t n, int64_t c, int64_t p, double pool_p, double eps) {
    std::vector<double> q(static_cast<size_t>(n * p), 0.0);
    for (int64_t i = 0; i < n; ++i) {
        double norm = 0.0;
        for (int64_t j = 0; j < p; ++j) {
            double a = 0.0;
            for (int64_t ch = 0; ch < c; ++ch) a += std::pow(std::fabs(static_cast<double>(x[(i * c + ch) * p + j])), pool_p);
            q[i * p + j] = a;
            norm += a * a;
        }
        norm = std::max(std::sqrt(norm), eps);
        for (int64_t j = 0; j < p; ++j) q[i * p + j] /= norm;
    }
    return q;
}

double ref_attention_transfer(const float* s, int64_t cs, const float* t, int64_t ct, int64_t n, int64_t h,
                              int64_t w, double pool_p, int distance, double eps) {
    const int64_t p = h * w;
    const std::vector<double> qs = ref_attention(s, n, cs, p, pool_p, eps);
    const std::vector<double> qt = ref_attention(t, n, ct, p, pool_p, eps);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double row = 0.0;
        for (int64_t j = 0; j < p; ++j) {
            const double d = qs[i * p + j] - qt[i * p + j];
            row += d * d;
        }
        sum += distance == DT_AT_SQUARED ? row : std::sqrt(row);
    }
    return distance == DT_AT_SQUARED ? sum / static_cast<double>(n * p) : sum / static_cast<double>(n);
}

double ref_soft_target_ce(const float* s, const float* t, int64_t n, int64_t k, int64_t p, double tau) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < p; ++j) {
            auto at = [&](int64_t q) { return (i * k + q) * p + j; };
            double ms = -INFINITY, mt = -INFINITY;
            for (int64_t q = 0; q < k; ++q) {
                ms = std::max(ms, static_cast<double>(s[at(q)]));
                mt = std::max(mt, static_cast<double>(t[at(q)]));
            }
            double zs = 0.0, zt = 0.0;
            for (int64_t q = 0; q < k; ++q) {
                zs += std::exp((s[at(q)] - ms) / tau);
                zt += std::exp((t[at(q)] - mt) / tau);
            }
            const double lzs = std::log(zs);
            for (int64_t q = 0; q < k; ++q) {
                const double pt = std::exp((t[at(q)] - mt) / tau) / zt;
                sum -= pt * ((s[at(q)] - ms) / tau - lzs);
            }
        }
    }
    return sum / static_cast<double>(n * p);
}

// ---- calls of one kernel on one problem ------------------------------------------------------------

// One problem: a kernel, its sizes and scalars, and its input buffers.
struct Problem {
    enum Kind { MSE, AT, CE } kind;
    int64_t n = 1, c = 1, h = 1, w = 1;  // MSE: (n,c,h,w); AT: c = cs, c2 = ct; CE: (n, c = k, h = positions)
    int64_t c2 = 1;
    int32_t mode = 0;  // MSE mode, AT distance
    float scalar = 1e-5f;  // MSE eps, AT pool_p, CE temperature
    float eps = 1e-12f;    // AT eps
    float grad_scale = 1.0f;

    int64_t student_count() const { return kind == CE ? n * c * h : n * c * h * w; }
    int64_t teacher_count() const { return kind == AT ? n * c2 * h * w : student_count(); }
    const char* name() const { return kind == MSE ? "whitened_mse" : kind == AT ? "attention_transfer" : "soft_target_ce"; }
    const char* student_name() const { return kind == CE ? "student_logits" : "student"; }
    const char* teacher_name() const { return kind == CE ? "teacher_logits" : "teacher"; }

    dt_status run(const float* s, const float* t, float* loss, float* grad) const {
        switch (kind) {
            case MSE: return dt_whitened_mse_f32(s, t, n, c, h, w, mode, scalar, grad_scale, loss, grad);
            case AT: return dt_attention_transfer_f32(s, c, t, c2, n, h, w, scalar, mode, eps, grad_scale, loss, grad);
            default: return dt_soft_target_ce_f32(s, t, n, c, h, scalar, grad_scale, loss, grad);
        }
    }
    // The CUDA entry point on the same pointers: only meaningful where device memory is host memory
    // (the CPU emulation of the CUDA kernels, cuda/test/emulator), then synchronous.
    dt_status run_cuda(const float* s, const float* t, float* loss, float* grad) const {
        switch (kind) {
            case MSE: return dt_cuda_whitened_mse_f32(s, t, n, c, h, w, mode, scalar, grad_scale, loss, grad, nullptr);
            case AT: return dt_cuda_attention_transfer_f32(s, c, t, c2, n, h, w, scalar, mode, eps, grad_scale, loss, grad, nullptr);
            default: return dt_cuda_soft_target_ce_f32(s, t, n, c, h, scalar, grad_scale, loss, grad, nullptr);
        }
    }
    double reference(const float* s, const float* t) const {
        switch (kind) {
            case MSE: return ref_whitened_mse(s, t, n, c, h, w, mode, scalar);
            case AT: return ref_attention_transfer(s, c, t, c2, n, h, w, scalar, mode, eps);
            default: return ref_soft_target_ce(s, t, n, c, h, scalar);
        }
    }
    std::string describe() const {
        char text[200];
        if (kind == CE)
            std::snprintf(text, sizeof text, "%s n=%lld k=%lld p=%lld T=%g", name(), (long long)n, (long long)c,
                          (long long)h, scalar);
        else
            std::snprintf(text, sizeof text, "%s n=%lld c=%lld/%lld h=%lld w=%lld mode=%d s=%g", name(),
                          (long long)n, (long long)c, (long long)c2, (long long)h, (long long)w, mode, scalar);
        return text;
    }
};

// Runs the problem on random inputs: reference, forward-only vs gradient, thread counts.
void check_problem(const Problem& pr, uint64_t seed, float scale) {
    Rng rng(seed);
    Buffer s(pr.student_count()), t(pr.teacher_count()), g1(pr.student_count());
    s.gaussian(rng, scale);
    t.gaussian(rng, scale);
    const std::string what = pr.describe();

    float loss_fwd = kSentinel, loss1 = kSentinel;
    dt_set_num_threads(1);
    EXPECT(pr.run(s.data, t.data, &loss_fwd, nullptr) == DT_OK, "%s: %s", what.c_str(), dt_last_error());
    EXPECT(pr.run(s.data, t.data, &loss1, g1.data) == DT_OK, "%s: %s", what.c_str(), dt_last_error());
    EXPECT(std::memcmp(&loss_fwd, &loss1, sizeof loss1) == 0, "%s: forward-only loss %.9g != %.9g", what.c_str(),
           loss_fwd, loss1);
    EXPECT(std::isfinite(loss1) && g1.finite(), "%s: non-finite result on finite inputs", what.c_str());
    const double want = pr.reference(s.data, t.data);
    EXPECT(rel_err(loss1, want) <= 1e-5 || std::fabs(loss1 - want) <= 1e-6, "%s: loss %.9g, reference %.9g",
           what.c_str(), loss1, want);

    for (int threads : {2, 5}) {
        Buffer g(pr.student_count());
        float loss = kSentinel;
        dt_set_num_threads(threads);
        EXPECT(pr.run(s.data, t.data, &loss, g.data) == DT_OK, "%s: %s", what.c_str(), dt_last_error());
        EXPECT(std::memcmp(&loss, &loss1, sizeof loss) == 0 && g.same_bits(g1),
               "%s: %d threads differ from 1 thread", what.c_str(), threads);
    }
    dt_set_num_threads(0);
}

void test_shapes() {
    const int64_t before = g_failures;
    uint64_t seed = 1;
    // Whitened MSE: tiny, odd, one element per group, sizes above the parallel grain (32768).
    const int64_t mse_shapes[][4] = {{1, 1, 1, 1}, {1, 1, 1, 2}, {2, 3, 4, 5}, {3, 1, 7, 3}, {1, 64, 1, 1},
                                     {2, 17, 9, 11}, {4, 32, 16, 16}, {1, 300, 13, 13}, {2, 5, 64, 65},
                                     {1, 2, 181, 181}, {3, 1000, 1, 7}};
    for (const auto& d : mse_shapes)
        for (int mode : {DT_WHITEN_PER_SAMPLE, DT_WHITEN_PER_PIXEL})
            for (float eps : {1e-5f, 1e-2f}) {
                Problem pr{Problem::MSE};
                pr.n = d[0], pr.c = d[1], pr.h = d[2], pr.w = d[3], pr.mode = mode, pr.scalar = eps;
                pr.grad_scale = 0.5f;
                check_problem(pr, seed++, 1.5f);
            }
    // Attention transfer: the special powers 1, 2, 3 and general ones, cs != ct, both distances.
    const int64_t at_shapes[][5] = {{1, 1, 1, 1, 1}, {2, 3, 5, 4, 5}, {1, 8, 8, 1, 1}, {3, 16, 4, 7, 9},
                                    {2, 64, 32, 24, 24}, {1, 3, 200, 31, 29}, {2, 1, 1, 130, 130}};
    for (const auto& d : at_shapes)
        for (float pool : {1.0f, 2.0f, 3.0f, 1.5f, 0.5f, 4.0f})
            for (int distance : {DT_AT_SQUARED, DT_AT_NORM}) {
                Problem pr{Problem::AT};
                pr.n = d[0], pr.c = d[1], pr.c2 = d[2], pr.h = d[3], pr.w = d[4];
                pr.scalar = pool, pr.mode = distance, pr.grad_scale = 2.0f;
                check_problem(pr, seed++, 1.0f);
            }
    // Soft-target CE: P == 1 with K < 32 (transposed rows), K >= 32, K > 256 (several chunks); P > 1.
    const int64_t ce_shapes[][3] = {{1, 1, 1}, {1, 2, 1}, {7, 10, 1}, {129, 10, 1}, {5000, 10, 1}, {3, 31, 1},
                                    {4, 32, 1}, {9, 100, 1}, {3, 1000, 1}, {2, 4097, 1}, {2, 3, 5},
                                    {2, 10, 64}, {1, 21, 1024}, {3, 2, 7}, {1, 1, 9}, {2, 300, 17}};
    for (const auto& d : ce_shapes)
        for (float tau : {1.0f, 4.0f, 0.25f}) {
            Problem pr{Problem::CE};
            pr.n = d[0], pr.c = d[1], pr.h = d[2], pr.scalar = tau, pr.grad_scale = 3.0f;
            check_problem(pr, seed++, 3.0f);
        }
    std::printf("shapes: %lld problems checked, %lld failures\n", (long long)(seed - 1),
                (long long)(g_failures - before));
}

// ---- bad arguments ------------------------------------------------------------------------------------

struct BadCall {
    const char* label;
    const char* argument;  // must appear in the message
    dt_status (*call)(const float* s, const float* t, float* loss, float* grad);
};

void test_bad_arguments() {
    const int64_t before = g_failures;
    // A big enough valid buffer for every call below: 2*5*4*5 = 200 floats.
    Buffer s(200), t(200), loss(1), grad(200);
    Rng rng(7);
    s.gaussian(rng, 1);
    t.gaussian(rng, 1);
    const int64_t big = int64_t(1) << 20;
    const float nan = kNaN, inf = kInf;
    (void)nan;
    (void)inf;
    static const BadCall calls[] = {
        // whitened MSE
        {"mse null student", "'student'", [](const float*, const float* t, float* l, float* g) { return dt_whitened_mse_f32(nullptr, t, 2, 3, 4, 5, 0, 1e-5f, 1, l, g); }},
        {"mse null teacher", "'teacher'", [](const float* s, const float*, float* l, float* g) { return dt_whitened_mse_f32(s, nullptr, 2, 3, 4, 5, 0, 1e-5f, 1, l, g); }},
        {"mse null loss", "'loss'", [](const float* s, const float* t, float*, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, 1e-5f, 1, nullptr, g); }},
        {"mse n=0", "'n'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 0, 3, 4, 5, 0, 1e-5f, 1, l, g); }},
        {"mse c<0", "'c'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, -3, 4, 5, 0, 1e-5f, 1, l, g); }},
        {"mse h=0", "'h'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 0, 5, 0, 1e-5f, 1, l, g); }},
        {"mse w min", "'w'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, INT64_MIN, 0, 1e-5f, 1, l, g); }},
        {"mse overflow", "overflow", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, int64_t(1) << 20, int64_t(1) << 20, int64_t(1) << 20, int64_t(1) << 20, 0, 1e-5f, 1, l, g); }},
        {"mse overflow max", "overflow", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, INT64_MAX, INT64_MAX, 1, 1, 0, 1e-5f, 1, l, g); }},
        {"mse mode", "'mode'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 2, 1e-5f, 1, l, g); }},
        {"mse mode -1", "'mode'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, 5, -1, 1e-5f, 1, l, g); }},
        {"mse eps 0", "'eps'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, 0.0f, 1, l, g); }},
        {"mse eps <0", "'eps'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, -1e-5f, 1, l, g); }},
        {"mse eps nan", "'eps'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, kNaN, 1, l, g); }},
        {"mse eps inf", "'eps'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, kInf, 1, l, g); }},
        {"mse grad_scale nan", "'grad_scale'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, 1e-5f, kNaN, l, g); }},
        {"mse grad_scale -inf", "'grad_scale'", [](const float* s, const float* t, float* l, float* g) { return dt_whitened_mse_f32(s, t, 2, 3, 4, 5, 0, 1e-5f, -kInf, l, g); }},
        // attention transfer
        {"at null student", "'student'", [](const float*, const float* t, float* l, float* g) { return dt_attention_transfer_f32(nullptr, 3, t, 5, 2, 4, 5, 2, 0, 1e-12f, 1, l, g); }},
        {"at null teacher", "'teacher'", [](const float* s, const float*, float* l, float* g) { return dt_attention_transfer_f32(s, 3, nullptr, 5, 2, 4, 5, 2, 0, 1e-12f, 1, l, g); }},
        {"at null loss", "'loss'", [](const float* s, const float* t, float*, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2, 0, 1e-12f, 1, nullptr, g); }},
        {"at cs=0", "'cs'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 0, t, 5, 2, 4, 5, 2, 0, 1e-12f, 1, l, g); }},
        {"at ct<0", "'ct'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, -5, 2, 4, 5, 2, 0, 1e-12f, 1, l, g); }},
        {"at n=0", "'n'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 0, 4, 5, 2, 0, 1e-12f, 1, l, g); }},
        {"at h=0", "'h'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 0, 5, 2, 0, 1e-12f, 1, l, g); }},
        {"at w<0", "'w'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 4, -1, 2, 0, 1e-12f, 1, l, g); }},
        {"at student overflow", "'n, cs, h, w'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, INT64_MAX / 2, t, 5, 2, 4, 5, 2, 0, 1e-12f, 1, l, g); }},
        {"at teacher overflow", "'n, ct, h, w'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, INT64_MAX / 4, 2, 4, 5, 2, 0, 1e-12f, 1, l, g); }},
        {"at pool_p 0", "'pool_p'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 0, 0, 1e-12f, 1, l, g); }},
        {"at pool_p nan", "'pool_p'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, kNaN, 0, 1e-12f, 1, l, g); }},
        {"at pool_p inf", "'pool_p'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, kInf, 0, 1e-12f, 1, l, g); }},
        {"at distance", "'distance'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2, 7, 1e-12f, 1, l, g); }},
        {"at eps 0", "'eps'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2, 0, 0.0f, 1, l, g); }},
        {"at eps nan", "'eps'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2, 0, kNaN, 1, l, g); }},
        {"at grad_scale inf", "'grad_scale'", [](const float* s, const float* t, float* l, float* g) { return dt_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2, 0, 1e-12f, kInf, l, g); }},
        // soft-target CE
        {"ce null student", "'student_logits'", [](const float*, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(nullptr, t, 2, 5, 20, 4, 1, l, g); }},
        {"ce null teacher", "'teacher_logits'", [](const float* s, const float*, float* l, float* g) { return dt_soft_target_ce_f32(s, nullptr, 2, 5, 20, 4, 1, l, g); }},
        {"ce null loss", "'loss'", [](const float* s, const float* t, float*, float* g) { return dt_soft_target_ce_f32(s, t, 2, 5, 20, 4, 1, nullptr, g); }},
        {"ce n=0", "'n'", [](const float* s, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(s, t, 0, 5, 20, 4, 1, l, g); }},
        {"ce k<0", "'k'", [](const float* s, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(s, t, 2, -5, 20, 4, 1, l, g); }},
        {"ce positions=0", "'positions'", [](const float* s, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(s, t, 2, 5, 0, 4, 1, l, g); }},
        {"ce overflow", "overflow", [](const float* s, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(s, t, INT64_MAX, 2, 1, 4, 1, l, g); }},
        {"ce temperature 0", "'temperature'", [](const float* s, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(s, t, 2, 5, 20, 0, 1, l, g); }},
        {"ce temperature <0", "'temperature'", [](const float* s, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(s, t, 2, 5, 20, -4, 1, l, g); }},
        {"ce temperature nan", "'temperature'", [](const float* s, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(s, t, 2, 5, 20, kNaN, 1, l, g); }},
        {"ce temperature inf", "'temperature'", [](const float* s, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(s, t, 2, 5, 20, kInf, 1, l, g); }},
        {"ce grad_scale nan", "'grad_scale'", [](const float* s, const float* t, float* l, float* g) { return dt_soft_target_ce_f32(s, t, 2, 5, 20, 4, kNaN, l, g); }},
        // the CUDA entry points check the same arguments before anything else (no GPU needed)
        {"cuda mse n=0", "'n'", [](const float* s, const float* t, float* l, float* g) { return dt_cuda_whitened_mse_f32(s, t, 0, 3, 4, 5, 0, 1e-5f, 1, l, g, nullptr); }},
        {"cuda mse mode", "'mode'", [](const float* s, const float* t, float* l, float* g) { return dt_cuda_whitened_mse_f32(s, t, 2, 3, 4, 5, 9, 1e-5f, 1, l, g, nullptr); }},
        {"cuda mse null student", "'student'", [](const float*, const float* t, float* l, float* g) { return dt_cuda_whitened_mse_f32(nullptr, t, 2, 3, 4, 5, 0, 1e-5f, 1, l, g, nullptr); }},
        {"cuda at pool_p", "'pool_p'", [](const float* s, const float* t, float* l, float* g) { return dt_cuda_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, -2, 0, 1e-12f, 1, l, g, nullptr); }},
        {"cuda at overflow", "overflow", [](const float* s, const float* t, float* l, float* g) { return dt_cuda_attention_transfer_f32(s, 3, t, INT64_MAX, 2, 4, 5, 2, 0, 1e-12f, 1, l, g, nullptr); }},
        {"cuda at null loss", "'loss'", [](const float* s, const float* t, float*, float* g) { return dt_cuda_attention_transfer_f32(s, 3, t, 5, 2, 4, 5, 2, 0, 1e-12f, 1, nullptr, g, nullptr); }},
        {"cuda ce temperature", "'temperature'", [](const float* s, const float* t, float* l, float* g) { return dt_cuda_soft_target_ce_f32(s, t, 2, 5, 20, kNaN, 1, l, g, nullptr); }},
        {"cuda ce k=0", "'k'", [](const float* s, const float* t, float* l, float* g) { return dt_cuda_soft_target_ce_f32(s, t, 2, 0, 20, 4, 1, l, g, nullptr); }},
        {"cuda ce null teacher", "'teacher_logits'", [](const float* s, const float*, float* l, float* g) { return dt_cuda_soft_target_ce_f32(s, nullptr, 2, 5, 20, 4, 1, l, g, nullptr); }},
    };
    (void)big;
    for (const BadCall& bc : calls) {
        loss.fill(kSentinel);
        grad.fill(kSentinel);
        const dt_status status = bc.call(s.data, t.data, loss.data, grad.data);
        const char* message = dt_last_error();
        EXPECT(status == DT_ERR_INVALID_ARGUMENT, "%s: status %d (%s)", bc.label, (int)status, message);
        EXPECT(contains(message, bc.argument), "%s: message '%s' does not name %s", bc.label, message, bc.argument);
        EXPECT(loss.all(kSentinel) && grad.all(kSentinel), "%s: outputs written", bc.label);
    }
    // A successful call clears the message; the message is per thread.
    float l = kSentinel;
    EXPECT(dt_whitened_mse_f32(s.data, t.data, 2, 3, 4, 5, 0, 1e-5f, 1, &l, nullptr) == DT_OK, "%s", dt_last_error());
    EXPECT(dt_last_error()[0] == '\0', "message not cleared: '%s'", dt_last_error());
    dt_soft_target_ce_f32(s.data, t.data, 2, 5, 20, -1, 1, &l, nullptr);
    std::string other;
    std::thread([&] { other = dt_last_error(); }).join();
    EXPECT(other.empty(), "another thread sees the message '%s'", other.c_str());
    // The CUDA entry points on valid arguments, without a usable device: DT_ERR_UNSUPPORTED, nothing written.
    if (!dt_cuda_available()) {
        loss.fill(kSentinel);
        EXPECT(dt_cuda_whitened_mse_f32(s.data, t.data, 2, 3, 4, 5, 0, 1e-5f, 1, loss.data, nullptr, nullptr) ==
                   DT_ERR_UNSUPPORTED && contains(dt_last_error(), "unavailable") && loss.all(kSentinel),
               "cuda without a device: %s", dt_last_error());
    }
    std::printf("bad arguments: %zu calls checked, %lld failures\n", sizeof calls / sizeof calls[0],
                (long long)(g_failures - before));
}

// ---- aliasing: outputs must not overlap inputs or each other (dreamteacher.h) ----------------------

void test_aliasing() {
    const int64_t before = g_failures;
    // One arena; every tensor below is a window of it. Shapes: mse (2,3,4,5) = 120 floats,
    // attention cs=3 ct=5 (2,.,4,5): student 120, teacher 200; ce (2,5,20) = 200 floats.
    Buffer arena(1000);
    Rng rng(11);
    struct Case {
        const char* label;
        dt_status expected;
        const char* first;   // named in the message (expected == DT_ERR_INVALID_ARGUMENT)
        const char* second;
        dt_status (*call)(float* a);
    };
    static const Case cases[] = {
        {"mse grad == student", DT_ERR_INVALID_ARGUMENT, "'grad_student'", "'student'",
         [](float* a) { return dt_whitened_mse_f32(a, a + 200, 2, 3, 4, 5, 0, 1e-5f, 1, a + 999, a); }},
        {"mse grad overlaps teacher's tail", DT_ERR_INVALID_ARGUMENT, "'grad_student'", "'teacher'",
         [](float* a) { return dt_whitened_mse_f32(a, a + 200, 2, 3, 4, 5, 1, 1e-5f, 1, a + 999, a + 319); }},
        {"mse loss inside teacher", DT_ERR_INVALID_ARGUMENT, "'loss'", "'teacher'",
         [](float* a) { return dt_whitened_mse_f32(a, a + 200, 2, 3, 4, 5, 0, 1e-5f, 1, a + 250, a + 400); }},
        {"mse loss inside grad", DT_ERR_INVALID_ARGUMENT, "'loss'", "'grad_student'",
         [](float* a) { return dt_whitened_mse_f32(a, a + 200, 2, 3, 4, 5, 0, 1e-5f, 1, a + 519, a + 400); }},
        {"mse loss == student, forward only", DT_ERR_INVALID_ARGUMENT, "'loss'", "'student'",
         [](float* a) { return dt_whitened_mse_f32(a, a + 200, 2, 3, 4, 5, 0, 1e-5f, 1, a, nullptr); }},
        {"mse student == teacher (inputs may overlap)", DT_OK, "", "",
         [](float* a) { return dt_whitened_mse_f32(a, a, 2, 3, 4, 5, 0, 1e-5f, 1, a + 999, a + 400); }},
        {"mse grad right after student", DT_OK, "", "",
         [](float* a) { return dt_whitened_mse_f32(a, a + 240, 2, 3, 4, 5, 0, 1e-5f, 1, a + 999, a + 120); }},
        {"at grad overlaps student", DT_ERR_INVALID_ARGUMENT, "'grad_student'", "'student'",
         [](float* a) { return dt_attention_transfer_f32(a, 3, a + 200, 5, 2, 4, 5, 2, 0, 1e-12f, 1, a + 999, a + 119); }},
        {"at grad overlaps teacher's head", DT_ERR_INVALID_ARGUMENT, "'grad_student'", "'teacher'",
         [](float* a) { return dt_attention_transfer_f32(a, 3, a + 200, 5, 2, 4, 5, 2, 0, 1e-12f, 1, a + 999, a + 150); }},
        {"at loss at teacher's last float", DT_ERR_INVALID_ARGUMENT, "'loss'", "'teacher'",
         [](float* a) { return dt_attention_transfer_f32(a, 3, a + 200, 5, 2, 4, 5, 2, 0, 1e-12f, 1, a + 399, a + 500); }},
        {"at disjoint", DT_OK, "", "",
         [](float* a) { return dt_attention_transfer_f32(a, 3, a + 200, 5, 2, 4, 5, 2, 0, 1e-12f, 1, a + 400, a + 500); }},
        {"ce grad == teacher", DT_ERR_INVALID_ARGUMENT, "'grad_student'", "'teacher_logits'",
         [](float* a) { return dt_soft_target_ce_f32(a, a + 200, 2, 5, 20, 4, 1, a + 999, a + 200); }},
        {"ce loss inside student", DT_ERR_INVALID_ARGUMENT, "'loss'", "'student_logits'",
         [](float* a) { return dt_soft_target_ce_f32(a, a + 200, 2, 5, 20, 4, 1, a + 7, a + 400); }},
        {"ce disjoint", DT_OK, "", "",
         [](float* a) { return dt_soft_target_ce_f32(a, a + 200, 2, 5, 20, 4, 1, a + 999, a + 400); }},
        // the CUDA entry points run the same check first (no device needed)
        {"cuda mse grad == student", DT_ERR_INVALID_ARGUMENT, "'grad_student'", "'student'",
         [](float* a) { return dt_cuda_whitened_mse_f32(a, a + 200, 2, 3, 4, 5, 0, 1e-5f, 1, a + 999, a, nullptr); }},
        {"cuda ce loss inside grad", DT_ERR_INVALID_ARGUMENT, "'loss'", "'grad_student'",
         [](float* a) { return dt_cuda_soft_target_ce_f32(a, a + 200, 2, 5, 20, 4, 1, a + 500, a + 400, nullptr); }},
    };
    Buffer copy(1000);
    for (const Case& c : cases) {
        arena.gaussian(rng, 1);
        std::memcpy(copy.data, arena.data, sizeof(float) * 1000);
        const dt_status status = c.call(arena.data);
        const char* message = dt_last_error();
        EXPECT(status == c.expected, "%s: status %d, expected %d (%s)", c.label, (int)status, (int)c.expected, message);
        if (c.expected == DT_ERR_INVALID_ARGUMENT) {
            EXPECT(contains(message, c.first) && contains(message, c.second) && contains(message, "overlaps"),
                   "%s: message '%s' does not name %s and %s", c.label, message, c.first, c.second);
            EXPECT(arena.same_bits(copy), "%s: memory written on a refused call", c.label);
        }
    }
    std::printf("aliasing: %zu calls checked, %lld failures\n", sizeof cases / sizeof cases[0],
                (long long)(g_failures - before));
}

// ---- non-finite inputs ------------------------------------------------------------------------------

void test_non_finite() {
    const int64_t before = g_failures;
    int cases = 0;
    Problem problems[6] = {{Problem::MSE}, {Problem::MSE}, {Problem::AT}, {Problem::AT}, {Problem::CE}, {Problem::CE}};
    problems[0].n = 2, problems[0].c = 3, problems[0].h = 4, problems[0].w = 5, problems[0].mode = 0;
    problems[1].n = 2, problems[1].c = 3, problems[1].h = 4, problems[1].w = 5, problems[1].mode = 1;
    problems[2].n = 2, problems[2].c = 3, problems[2].c2 = 4, problems[2].h = 4, problems[2].w = 5,
    problems[2].scalar = 2.0f, problems[2].mode = DT_AT_SQUARED;
    problems[3].n = 2, problems[3].c = 3, problems[3].c2 = 4, problems[3].h = 4, problems[3].w = 5,
    problems[3].scalar = 1.5f, problems[3].mode = DT_AT_NORM;
    problems[4].n = 70, problems[4].c = 10, problems[4].h = 1, problems[4].scalar = 4.0f;  // P == 1, small K
    problems[5].n = 2, problems[5].c = 40, problems[5].h = 6, problems[5].scalar = 2.0f;   // P > 1
    Problem big_k{Problem::CE};
    big_k.n = 3, big_k.c = 300, big_k.h = 1, big_k.scalar = 1.0f;  // P == 1, K >= 32
    const float bad_values[] = {kNaN, kInf, -kInf};
    const char* bad_names[] = {"nan", "inf", "-inf"};
    for (int pi = 0; pi < 7; ++pi) {
        const Problem& pr = pi < 6 ? problems[pi] : big_k;
        Rng rng(100 + pi);
        Buffer s(pr.student_count()), t(pr.teacher_count());
        s.gaussian(rng, 1);
        t.gaussian(rng, 1);
        for (int which = 0; which < 2; ++which) {  // 0: student, 1: teacher
            Buffer& target = which == 0 ? s : t;
            const int64_t positions[] = {0, target.count / 3, target.count - 1};
            for (int64_t at : positions) {
                for (int b = 0; b < 3; ++b) {
                    ++cases;
                    const float saved = target.data[at];
                    target.data[at] = bad_values[b];
                    const std::string what = pr.describe() + (which ? " teacher[" : " student[") + std::to_string(at) +
                                             "]=" + bad_names[b];
                    // Policy: propagated, never hidden.
                    Buffer loss(1), grad(pr.student_count());
#ifdef DT_TEST_CUDA_HOST_MEMORY
                    // The CUDA kernels too (emulated on the CPU: device pointers are host pointers).
                    EXPECT(pr.run_cuda(s.data, t.data, loss.data, grad.data) == DT_OK, "%s (cuda): %s", what.c_str(),
                           dt_last_error());
                    EXPECT(!std::isfinite(loss.data[0]), "%s (cuda): finite loss %g", what.c_str(), loss.data[0]);
                    ++g_cuda_cases;
#endif
                    dt_set_check_finite(0);
                    EXPECT(pr.run(s.data, t.data, loss.data, grad.data) == DT_OK, "%s: %s", what.c_str(), dt_last_error());
                    EXPECT(!std::isfinite(loss.data[0]), "%s: finite loss %g", what.c_str(), loss.data[0]);
                    loss.fill(kSentinel);
                    EXPECT(pr.run(s.data, t.data, loss.data, nullptr) == DT_OK && !std::isfinite(loss.data[0]),
                           "%s (forward only): finite loss %g", what.c_str(), loss.data[0]);
                    // The check: error naming the tensor and the index, nothing written.
                    dt_set_check_finite(1);
                    loss.fill(kSentinel);
                    grad.fill(kSentinel);
                    const dt_status st = pr.run(s.data, t.data, loss.data, grad.data);
                    const std::string message = dt_last_error();
                    char expected[160];
                    std::snprintf(expected, sizeof expected, "tensor '%s' holds a non-finite value (%s) at index %lld ",
                                  which ? pr.teacher_name() : pr.student_name(), bad_names[b], (long long)at);
                    EXPECT(st == DT_ERR_NON_FINITE, "%s: status %d with the check on", what.c_str(), (int)st);
                    EXPECT(contains(message.c_str(), expected), "%s: message '%s' lacks '%s'", what.c_str(),
                           message.c_str(), expected);
                    EXPECT(loss.all(kSentinel) && grad.all(kSentinel), "%s: outputs written with the check on", what.c_str());
                    dt_set_check_finite(0);
                    target.data[at] = saved;
                }
            }
        }
        // Two bad elements: the first one of the first tensor (student before teacher) is named.
        s.data[s.count - 1] = kNaN;
        t.data[0] = kInf;
        dt_set_check_finite(1);
        float l = kSentinel;
        EXPECT(pr.run(s.data, t.data, &l, nullptr) == DT_ERR_NON_FINITE &&
                   contains(dt_last_error(), (std::string("tensor '") + pr.student_name() + "'").c_str()) &&
                   contains(dt_last_error(), ("at index " + std::to_string(s.count - 1) + " ").c_str()),
               "%s: two bad elements: %s", pr.describe().c_str(), dt_last_error());
        dt_set_check_finite(0);
    }
    // Coordinates in the message: element (n=1, c=2, h=3, w=4) of a (2,3,4,5) student is index 119.
    {
        Buffer s(120), t(120);
        Rng rng(5);
        s.gaussian(rng, 1);
        t.gaussian(rng, 1);
        s.data[119] = kNaN;
        dt_set_check_finite(1);
        float l = kSentinel;
        EXPECT(dt_whitened_mse_f32(s.data, t.data, 2, 3, 4, 5, 0, 1e-5f, 1, &l, nullptr) == DT_ERR_NON_FINITE &&
                   contains(dt_last_error(), "at index 119 (n=1, c=2, h=3, w=4)"),
               "coordinates: %s", dt_last_error());
        EXPECT(dt_soft_target_ce_f32(s.data, t.data, 2, 3, 20, 1, 1, &l, nullptr) == DT_ERR_NON_FINITE &&
                   contains(dt_last_error(), "at index 119 (n=1, k=2, p=19)"),
               "coordinates: %s", dt_last_error());
        // Bad arguments are still reported first.
        EXPECT(dt_whitened_mse_f32(s.data, t.data, 2, 3, 4, 5, 5, 1e-5f, 1, &l, nullptr) == DT_ERR_INVALID_ARGUMENT,
               "bad argument with the check on: %s", dt_last_error());
        dt_set_check_finite(0);
        EXPECT(dt_check_finite() == 0, "dt_check_finite() after turning it off");
    }
    // Finite inputs: the same bits with the check on as off.
    for (const Problem& pr : problems) {
        Rng rng(9);
        Buffer s(pr.student_count()), t(pr.teacher_count()), g0(pr.student_count()), g1(pr.student_count());
        s.gaussian(rng, 1);
        t.gaussian(rng, 1);
        float l0 = kSentinel, l1 = kSentinel;
        dt_set_check_finite(0);
        pr.run(s.data, t.data, &l0, g0.data);
        dt_set_check_finite(1);
        EXPECT(pr.run(s.data, t.data, &l1, g1.data) == DT_OK && std::memcmp(&l0, &l1, sizeof l0) == 0 && g0.same_bits(g1),
               "%s: the check changed a finite result", pr.describe().c_str());
        dt_set_check_finite(0);
    }
    std::printf("non-finite inputs: %d cases (%d through the CUDA kernels), %lld failures\n", cases, g_cuda_cases,
                (long long)(g_failures - before));
}

// ---- extreme finite values ------------------------------------------------------------------------------

void test_extremes() {
    const int64_t before = g_failures;
    const float denormal = std::numeric_limits<float>::denorm_min();
    const float values[] = {0.0f, -0.0f, denormal, -denormal, 1e-30f, 1e4f, -1e4f, 1e30f, -1e30f};
    int cases = 0;
    for (float v : values) {
        for (int mixed = 0; mixed < 2; ++mixed) {
            // CE: logits of any finite magnitude give a finite loss and gradient.
            Buffer s(2 * 12 * 3), t(2 * 12 * 3), g(2 * 12 * 3);
            Rng rng(11);
            for (int64_t i = 0; i < s.count; ++i) {
                s.data[i] = mixed && (i % 3 == 0) ? rng.gaussian(1) : v;
                t.data[i] = mixed && (i % 2 == 0) ? -v : v;
            }
            for (int64_t p : {1, 3}) {
                float l = kSentinel;
                ++cases;
                EXPECT(dt_soft_target_ce_f32(s.data, t.data, p == 1 ? 6 : 2, 12, p, 1.0f, 1.0f, &l, g.data) == DT_OK &&
                           std::isfinite(l) && l >= 0 && g.finite(),
                       "ce logits %g mixed=%d p=%lld: loss %g", v, mixed, (long long)p, l);
            }
            // Whitened MSE: a constant teacher, or any bounded one, gives a finite loss for |student| <= 1e18.
            if (std::fabs(v) <= 1e18f) {
                for (int mode : {0, 1}) {
                    float l = kSentinel;
                    ++cases;
                    EXPECT(dt_whitened_mse_f32(s.data, t.data, 2, 12, 3, 1, mode, 1e-5f, 1.0f, &l, g.data) == DT_OK &&
                               std::isfinite(l) && g.finite(),
                           "mse values %g mixed=%d mode=%d: loss %g", v, mixed, mode, l);
                }
            }
            // Attention transfer: all-zero maps (norm below eps) and tiny or large values.
            for (float pool : {1.0f, 2.0f, 3.0f, 0.5f}) {
                float l = kSentinel;
                ++cases;
                EXPECT(dt_attention_transfer_f32(s.data, 12, t.data, 12, 2, 3, 1, pool, DT_AT_NORM, 1e-12f, 1.0f, &l,
                                                 g.data) == DT_OK &&
                           std::isfinite(l) && g.finite(),
                       "at values %g mixed=%d p=%g: loss %g", v, mixed, pool, l);
            }
        }
    }
    std::printf("extreme values: %d cases, %lld failures\n", cases, (long long)(g_failures - before));
}

// ---- several threads at once ------------------------------------------------------------------------------

void test_concurrent_callers() {
    const int64_t before = g_failures;
    Problem problems[3] = {{Problem::MSE}, {Problem::AT}, {Problem::CE}};
    problems[0].n = 2, problems[0].c = 16, problems[0].h = 8, problems[0].w = 8;
    problems[1].n = 2, problems[1].c = 16, problems[1].c2 = 8, problems[1].h = 8, problems[1].w = 8, problems[1].scalar = 2;
    problems[2].n = 64, problems[2].c = 10, problems[2].h = 1, problems[2].scalar = 4;
    constexpr int kThreads = 6, kCalls = 300;
    std::vector<std::thread> threads;
    std::vector<int> mismatches(kThreads, 0);
    for (int th = 0; th < kThreads; ++th) {
        threads.emplace_back([&, th] {
            for (int pi = 0; pi < 3; ++pi) {
                const Problem& pr = problems[pi];
                Rng rng(50 + pi);  // the same inputs in every thread
                Buffer s(pr.student_count()), t(pr.teacher_count()), g0(pr.student_count()), g(pr.student_count());
                s.gaussian(rng, 1);
                t.gaussian(rng, 1);
                float l0 = kSentinel;
                if (pr.run(s.data, t.data, &l0, g0.data) != DT_OK) ++mismatches[th];
                for (int i = 0; i < kCalls; ++i) {
                    float l = kSentinel;
                    if (pr.run(s.data, t.data, &l, g.data) != DT_OK || std::memcmp(&l, &l0, sizeof l) != 0 ||
                        !g.same_bits(g0))
                        ++mismatches[th];
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    // The single-threaded results.
    for (int pi = 0; pi < 3; ++pi) {
        const Problem& pr = problems[pi];
        Rng rng(50 + pi);
        Buffer s(pr.student_count()), t(pr.teacher_count()), g(pr.student_count());
        s.gaussian(rng, 1);
        t.gaussian(rng, 1);
        float l = kSentinel;
        dt_set_num_threads(1);
        pr.run(s.data, t.data, &l, g.data);
        dt_set_num_threads(0);
        const double want = pr.reference(s.data, t.data);
        EXPECT(rel_err(l, want) <= 1e-5, "%s: %g vs reference %g", pr.describe().c_str(), l, want);
    }
    for (int th = 0; th < kThreads; ++th) EXPECT(mismatches[th] == 0, "thread %d: %d mismatching calls", th, mismatches[th]);
    std::printf("concurrent callers: %d threads x %d calls x 3 kernels, %lld failures\n", kThreads, kCalls,
                (long long)(g_failures - before));
}

}  // namespace

int main() {
    // The check's initial setting comes from DT_CHECK_FINITE, read when it is first needed (here).
    setenv("DT_CHECK_FINITE", "1", 1);
    EXPECT(dt_check_finite() == 1, "DT_CHECK_FINITE=1 did not turn the check on");
    dt_set_check_finite(0);
    EXPECT(dt_check_finite() == 0, "dt_set_check_finite(0) did not turn the check off");
    std::printf("dreamteacher native tests, library %s, %d threads, cuda available: %d\n", dt_version(),
                dt_num_threads(), dt_cuda_available());
#ifdef DT_TEST_CUDA_HOST_MEMORY
    // Built against the CPU emulation of the CUDA kernels: the non-finite policy of the CUDA kernels.
    test_non_finite();
    std::printf("%d checks, %d failures\n", g_checks, g_failures);
    return g_failures == 0 && g_cuda_cases > 0 ? 0 : 1;
#endif
    test_bad_arguments();
    test_aliasing();
    test_non_finite();
    test_extremes();
    test_shapes();
    test_concurrent_callers();
    std::printf("%d checks, %d failures\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
