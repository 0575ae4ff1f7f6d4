// Runs the CUDA sources through the emulator (see run.sh) via the C ABI and checks them against a
// naive long double reference, the library's CPU kernels, and themselves under other thread/block
// orders (bit-identical). Arguments: emulated SMs, opt-in shared memory bytes, pools (1/0).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include "dreamteacher.h"

namespace emu { extern int g_order, g_sms, g_smem_optin, g_pools; }
typedef long double LD;
static int failures = 0, cases = 0;

struct Result { float loss; std::vector<float> grad; };

static void compare(const char* name, const Result& got, LD ref_loss, const std::vector<LD>& ref_grad, bool with_grad) {
    ++cases;
    LD max_ref = 0, max_err = 0;
    if (with_grad)
        for (size_t i = 0; i < ref_grad.size(); ++i) {
            max_ref = std::max(max_ref, fabsl(ref_grad[i]));
            LD e = fabsl((LD)got.grad[i] - ref_grad[i]);
            if (!(e <= max_err)) max_err = std::isnan((double)e) ? INFINITY : std::max(max_err, e);
        }
    LD lerr = fabsl((LD)got.loss - ref_loss);
    LD lrel = lerr / std::max(fabsl(ref_loss), (LD)1e-30);
    bool ok = (lrel <= 1e-5 || lerr <= 1e-12) && (!with_grad || max_err <= 1e-5 * max_ref || max_err <= 1e-15L);
    if (!ok) ++failures;
    std::printf("%-4s %-62s loss %.9Lg ref %.9Lg rel %.2Le  grad maxerr/max %.2Le\n", ok ? "ok" : "FAIL", name,
                (LD)got.loss, ref_loss, lrel, with_grad ? max_err / std::max(max_ref, (LD)1e-300) : (LD)0);
}

static std::vector<float> randv(size_t n, std::mt19937& rng, float scale, float offset = 0) {
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> v(n);
    for (auto& x : v) x = offset + scale * d(rng);
    return v;
}

// ---------------- references
static LD ref_wmse(const std::vector<float>& s, const std::vector<float>& t, long n, long c, long h, long w, int mode, float eps, float gs, std::vector<LD>& g) {
    long P = h * w, M = c * P, total = n * M;
    g.assign(total, 0);
    LD loss = 0;
    auto group = [&](std::vector<long> idx) {
        LD mean = 0; for (long i : idx) mean += t[i]; mean /= idx.size();
        LD var = 0; for (long i : idx) var += (t[i] - mean) * (t[i] - mean); var /= idx.size();
        LD r = 1 / sqrtl(var + (LD)eps);
        for (long i : idx) { LD d = s[i] - (t[i] - mean) * r; loss += d * d; g[i] = (LD)gs * 2 * d / total; }
    };
    if (mode == 0) for (long i = 0; i < n; ++i) { std::vector<long> idx; for (long j = 0; j < M; ++j) idx.push_back(i * M + j); group(idx); }
    else for (long i = 0; i < n; ++i) for (long p = 0; p < P; ++p) { std::vector<long> idx; for (long ch = 0; ch < c; ++ch) idx.push_back(i * M + ch * P + p); group(idx); }
    return loss / total;
}

static LD ref_at(const std::vector<float>& s, long cs, const std::vector<float>& t, long ct, long n, long h, long w, float pp, int dist, float eps, float gs, std::vector<LD>& g) {
    long P = h * w;
    g.assign(n * cs * P, 0);
    LD loss = 0;
    for (long i = 0; i < n; ++i) {
        std::vector<LD> as(P, 0), at(P, 0);
        for (long p = 0; p < P; ++p) {
            for (long c = 0; c < cs; ++c) as[p] += powl(fabsl((LD)s[(i * cs + c) * P + p]), (LD)pp);
            for (long c = 0; c < ct; ++c) at[p] += powl(fabsl((LD)t[(i * ct + c) * P + p]), (LD)pp);
        }
        LD ns = 0, nt = 0; for (long p = 0; p < P; ++p) { ns += as[p] * as[p]; nt += at[p] * at[p]; }
        ns = sqrtl(ns); nt = sqrtl(nt);
        LD ds = std::max(ns, (LD)eps), dt = std::max(nt, (LD)eps);
        std::vector<LD> qs(P), qt(P), gq(P);
        LD D = 0; for (long p = 0; p < P; ++p) { qs[p] = as[p] / ds; qt[p] = at[p] / dt; D += (qs[p] - qt[p]) * (qs[p] - qt[p]); }
        for (long p = 0; p < P; ++p) {
            if (dist == 0) gq[p] = 2 * (qs[p] - qt[p]) / (n * P);
            else gq[p] = D > 0 ? (qs[p] - qt[p]) / (n * sqrtl(D)) : 0;
        }
        loss += dist == 0 ? D / (n * P) : sqrtl(D) / n;
        LD dot = 0; for (long p = 0; p < P; ++p) dot += qs[p] * gq[p];
        for (long p = 0; p < P; ++p) {
            LD da = ns >= eps ? (gq[p] - qs[p] * dot) / ns : gq[p] / (LD)eps;
            for (long c = 0; c < cs; ++c) {
                LD x = s[(i * cs + c) * P + p];
                LD dx = x == 0 ? 0 : da * pp * powl(fabsl(x), (LD)pp - 1) * (x > 0 ? 1 : -1);
                g[(i * cs + c) * P + p] = gs * dx;
            }
        }
    }
    return loss;
}

static LD ref_ce(const std::vector<float>& s, const std::vector<float>& t, long n, long k, long P, float tau, float gs, std::vector<LD>& g) {
    g.assign(n * k * P, 0);
    LD loss = 0;
    for (long i = 0; i < n; ++i) for (long p = 0; p < P; ++p) {
        auto at = [&](long j) { return (i * k + j) * P + p; };
        LD ms = -INFINITY, mt = -INFINITY;
        for (long j = 0; j < k; ++j) { ms = std::max(ms, (LD)s[at(j)] / tau); mt = std::max(mt, (LD)t[at(j)] / tau); }
        LD zs = 0, zt = 0;
        for (long j = 0; j < k; ++j) { zs += expl((LD)s[at(j)] / tau - ms); zt += expl((LD)t[at(j)] / tau - mt); }
        for (long j = 0; j < k; ++j) {
            LD ls = (LD)s[at(j)] / tau - ms - logl(zs);
            LD pt = expl((LD)t[at(j)] / tau - mt) / zt, ps = expl(ls);
            loss -= pt * ls;
            g[at(j)] = (LD)gs * (ps - pt) / (tau * n * P);
        }
    }
    return loss / (n * P);
}

// ---------------- calls (offset: misalign all pointers by that many floats)
static Result call_wmse(bool cuda, const std::vector<float>& s, const std::vector<float>& t, long n, long c, long h, long w, int mode, float eps, float gs, bool grad, int offset = 0) {
    size_t N = s.size();
    std::vector<float> sb(N + 8), tb(N + 8), gb(N + 8, 12345.f);
    std::memcpy(sb.data() + offset, s.data(), N * 4); std::memcpy(tb.data() + offset, t.data(), N * 4);
    float* gp = grad ? gb.data() + offset : nullptr;
    Result r; r.loss = -777.f;
    dt_status st = cuda ? dt_cuda_whitened_mse_f32(sb.data() + offset, tb.data() + offset, n, c, h, w, mode, eps, gs, &r.loss, gp, nullptr)
                        : dt_whitened_mse_f32(sb.data() + offset, tb.data() + offset, n, c, h, w, mode, eps, gs, &r.loss, gp);
    if (st != DT_OK) { std::printf("status %d: %s\n", st, dt_last_error()); ++failures; }
    if (grad) r.grad.assign(gb.begin() + offset, gb.begin() + offset + N);
    return r;
}
static Result call_at(bool cuda, const std::vector<float>& s, long cs, const std::vector<float>& t, long ct, long n, long h, long w, float pp, int dist, float eps, float gs, bool grad, int offset = 0) {
    std::vector<float> sb(s.size() + 8), tb(t.size() + 8), gb(s.size() + 8, 12345.f);
    std::memcpy(sb.data() + offset, s.data(), s.size() * 4); std::memcpy(tb.data() + offset, t.data(), t.size() * 4);
    float* gp = grad ? gb.data() + offset : nullptr;
    Result r; r.loss = -777.f;
    dt_status st = cuda ? dt_cuda_attention_transfer_f32(sb.data() + offset, cs, tb.data() + offset, ct, n, h, w, pp, dist, eps, gs, &r.loss, gp, nullptr)
                        : dt_attention_transfer_f32(sb.data() + offset, cs, tb.data() + offset, ct, n, h, w, pp, dist, eps, gs, &r.loss, gp);
    if (st != DT_OK) { std::printf("status %d: %s\n", st, dt_last_error()); ++failures; }
    if (grad) r.grad.assign(gb.begin() + offset, gb.begin() + offset + s.size());
    return r;
}
static Result call_ce(bool cuda, const std::vector<float>& s, const std::vector<float>& t, long n, long k, long P, float tau, float gs, bool grad, int offset = 0) {
    size_t N = s.size();
    std::vector<float> sb(N + 8), tb(N + 8), gb(N + 8, 12345.f);
    std::memcpy(sb.data() + offset, s.data(), N * 4); std::memcpy(tb.data() + offset, t.data(), N * 4);
    float* gp = grad ? gb.data() + offset : nullptr;
    Result r; r.loss = -777.f;
    dt_status st = cuda ? dt_cuda_soft_target_ce_f32(sb.data() + offset, tb.data() + offset, n, k, P, tau, gs, &r.loss, gp, nullptr)
                        : dt_soft_target_ce_f32(sb.data() + offset, tb.data() + offset, n, k, P, tau, gs, &r.loss, gp);
    if (st != DT_OK) { std::printf("status %d: %s\n", st, dt_last_error()); ++failures; }
    if (grad) r.grad.assign(gb.begin() + offset, gb.begin() + offset + N);
    return r;
}

static bool same(const Result& a, const Result& b) {
    return std::memcmp(&a.loss, &b.loss, 4) == 0 && a.grad.size() == b.grad.size() &&
           (a.grad.empty() || std::memcmp(a.grad.data(), b.grad.data(), a.grad.size() * 4) == 0);
}

// Runs f(cuda) under several emulator orders: results must be bit-identical (no races, fixed sums).
template <class F> static Result orders(const char* name, F f) {
    emu::g_order = 0; Result a = f(true);
    emu::g_order = 1; Result b = f(true);
    emu::g_order = 7; Result c = f(true);
    emu::g_order = 0;
    if (!same(a, b) || !same(a, c)) { std::printf("FAIL %s: result depends on thread/block order (race)\n", name); ++failures; }
    if (!a.grad.empty() && a.grad.size() > 0 && a.grad[0] == 12345.f) { std::printf("FAIL %s: grad untouched\n", name); ++failures; }
    return a;
}

static void cpu_vs_cuda(const char* name, const Result& gpu, const Result& cpu) {
    double lrel = std::fabs((double)gpu.loss - cpu.loss) / std::max(1e-30, std::fabs((double)cpu.loss));
    double mx = 0, er = 0;
    for (size_t i = 0; i < cpu.grad.size(); ++i) { mx = std::max(mx, (double)std::fabs(cpu.grad[i])); er = std::max(er, (double)std::fabs(cpu.grad[i] - gpu.grad[i])); }
    bool ok = (lrel <= 2e-5 || std::fabs((double)gpu.loss - cpu.loss) < 1e-12) && er <= 2e-5 * mx + 1e-30;
    if (!ok) { ++failures; std::printf("FAIL cpu-vs-cuda %s: loss rel %.3g grad %.3g/%.3g\n", name, lrel, er, mx); }
}

int main(int argc, char** argv) {
    if (argc > 1) emu::g_sms = std::atoi(argv[1]);
    if (argc > 2) emu::g_smem_optin = std::atoi(argv[2]);
    if (argc > 3) emu::g_pools = std::atoi(argv[3]);
    std::printf("emulated SMs %d, opt-in smem %d\n", emu::g_sms, emu::g_smem_optin);
    std::mt19937 rng(42);
    char name[256];

    // ---------------- whitened MSE
    struct W { long n, c, h, w; int mode; float scale, offset; int off; bool grad; bool constant; };
    std::vector<W> ws = {
        {2, 3, 4, 5, 0, 1, 0, 0, true, false}, {1, 1, 1, 1, 0, 1, 0, 0, true, false}, {5, 1, 1, 1, 1, 1, 0, 0, true, false},
        {3, 7, 11, 13, 0, 1, 0, 0, true, false},      // M = 1001: warp path
        {1, 3, 101, 131, 0, 1, 0, 0, true, false},    // M = 39693 (odd): scalar chunks
        {2, 4, 64, 40, 0, 1, 0, 0, true, false},      // M = 10240, vec chunks
        {2, 4, 64, 40, 0, 1, 0, 1, true, false},      // misaligned: scalar path
        {1, 8, 50, 52, 0, 0.01f, 1e4f, 0, true, false},   // magnitude 1e4, tiny variance
        {2, 8, 33, 33, 0, 1, 3, 0, true, true},       // constant teacher
        {3, 5, 20, 20, 0, 1, 0, 0, false, false},     // forward only
        {2, 3, 4, 5, 1, 1, 0, 0, true, false}, {1, 1, 1, 1, 1, 1, 0, 0, true, false},
        {3, 7, 5, 9, 1, 1, 0, 0, true, false}, {2, 16, 8, 8, 1, 1, 0, 0, true, false},
        {2, 37, 5, 7, 1, 1, 0, 0, true, false}, {1, 600, 3, 5, 1, 1, 0, 0, true, false},
        {2, 20, 9, 9, 1, 0.01f, 1e4f, 0, true, false}, {2, 9, 6, 6, 1, 1, 5, 0, true, true},
        {4, 13, 3, 3, 1, 1, 0, 0, false, false}, {1, 2, 33, 17, 1, 1, 0, 3, true, false},
        {3, 2, 5, 7, 0, 1, 0, 0, false, false},       // forward only, warp path
        {1, 3, 101, 31, 0, 1, 0, 0, false, false},    // forward only, scalar chunks
        {1, 600, 2, 3, 1, 1, 0, 0, false, false},     // forward only, per pixel (uncached when opt-in is small)
        {2, 1100, 1, 3, 1, 1, 0, 0, true, false},     // C = 1100 per pixel
    };
    for (auto& c : ws) {
        size_t N = c.n * c.c * c.h * c.w;
        auto s = randv(N, rng, 1), t = randv(N, rng, c.scale, c.offset);
        if (c.constant) for (auto& x : t) x = c.offset;
        std::vector<LD> rg;
        LD rl = ref_wmse(s, t, c.n, c.c, c.h, c.w, c.mode, 1e-5f, 0.7f, rg);
        std::snprintf(name, sizeof name, "wmse n%ld c%ld h%ld w%ld mode%d scale%g off%g a%d grad%d const%d", c.n, c.c, c.h, c.w, c.mode, c.scale, c.offset, c.off, c.grad, c.constant);
        Result r = orders(name, [&](bool cu) { return call_wmse(cu, s, t, c.n, c.c, c.h, c.w, c.mode, 1e-5f, 0.7f, c.grad, c.off); });
        compare(name, r, rl, rg, c.grad);
        cpu_vs_cuda(name, r, call_wmse(false, s, t, c.n, c.c, c.h, c.w, c.mode, 1e-5f, 0.7f, c.grad, c.off));
    }

    // ---------------- attention transfer
    struct A { long n, cs, ct, h, w; float p; int dist; int special; bool grad; int off; };
    // special: 0 random, 1 zero student, 2 zero both, 3 student == teacher, 4 magnitude 1e4 (scaled), 5 tiny values (norm < eps)
    std::vector<A> as = {
        {2, 3, 5, 4, 4, 2, 0, 0, true, 0}, {2, 3, 5, 4, 4, 2, 1, 0, true, 0}, {1, 1, 1, 1, 1, 2, 0, 0, true, 0},
        {1, 1, 1, 1, 1, 2, 1, 0, true, 0}, {3, 7, 2, 5, 7, 1, 0, 0, true, 1}, {3, 7, 2, 5, 7, 1, 1, 0, true, 0},
        {2, 4, 6, 3, 5, 3.5f, 0, 0, true, 0}, {2, 4, 6, 3, 5, 3.5f, 1, 0, true, 0}, {2, 20, 40, 8, 8, 2, 0, 0, true, 0},
        {1, 600, 3, 2, 3, 2, 1, 0, true, 0}, {1, 5, 4, 50, 100, 2, 0, 0, true, 0},   // P = 5000: 5 chunks
        {2, 3, 3, 40, 60, 1, 1, 0, true, 2},
        {2, 4, 4, 4, 4, 2, 0, 1, true, 0}, {2, 4, 4, 4, 4, 2, 1, 2, true, 0}, {2, 4, 4, 4, 4, 2, 1, 3, true, 0},
        {2, 4, 4, 4, 4, 2, 0, 3, true, 0}, {2, 6, 5, 3, 3, 2, 0, 4, true, 0}, {2, 6, 5, 3, 3, 3.5f, 1, 4, true, 0},
        {2, 3, 3, 3, 3, 2, 0, 5, true, 0}, {2, 3, 3, 3, 3, 1, 1, 5, true, 0}, {3, 5, 6, 7, 3, 2, 1, 0, false, 0},
    };
    for (auto& c : as) {
        size_t NS = c.n * c.cs * c.h * c.w, NT = c.n * c.ct * c.h * c.w;
        auto s = randv(NS, rng, 1), t = randv(NT, rng, 1);
        if (c.special == 1 || c.special == 2) for (auto& x : s) x = 0;
        if (c.special == 2) for (auto& x : t) x = 0;
        if (c.special == 3) t = s;
        if (c.special == 4) { for (auto& x : s) x *= 1e4f; for (auto& x : t) x *= 1e4f; }
        if (c.special == 5) { for (auto& x : s) x *= 1e-8f; }
        if (c.special == 3 && c.cs != c.ct) continue;
        std::vector<LD> rg;
        LD rl = ref_at(s, c.cs, t, c.ct, c.n, c.h, c.w, c.p, c.dist, 1e-12f, 1.3f, rg);
        std::snprintf(name, sizeof name, "at n%ld cs%ld ct%ld h%ld w%ld p%g dist%d special%d grad%d", c.n, c.cs, c.ct, c.h, c.w, c.p, c.dist, c.special, c.grad);
        Result r = orders(name, [&](bool cu) { return call_at(cu, s, c.cs, t, c.ct, c.n, c.h, c.w, c.p, c.dist, 1e-12f, 1.3f, c.grad, c.off); });
        compare(name, r, rl, rg, c.grad);
        cpu_vs_cuda(name, r, call_at(false, s, c.cs, t, c.ct, c.n, c.h, c.w, c.p, c.dist, 1e-12f, 1.3f, c.grad, c.off));
    }

    // ---------------- soft-target CE
    struct C { long n, k, P; float tau; float scale; bool grad; int special; int off; };
    // special: 0 random, 1 teacher == student, 2 sorted increasing logits (max changes at every k)
    std::vector<C> cs = {
        {4, 1, 1, 1, 1, true, 0, 0}, {3, 1, 7, 2, 1, true, 0, 0}, {16, 10, 1, 4, 3, true, 0, 0}, {5, 10, 1, 0.5f, 1e4f, true, 0, 0},
        {2, 40, 1, 1, 3, true, 0, 0}, {3, 300, 1, 4, 3, true, 0, 0}, {2, 1000, 1, 0.5f, 1e4f, true, 0, 0}, {2, 1000, 1, 1, 3, true, 0, 1},
        {2, 1500, 1, 4, 3, true, 0, 0}, {2, 40, 17, 1, 3, true, 0, 0}, {2, 100, 50, 1, 3, true, 0, 0}, {1, 3, 4096, 2, 3, true, 0, 0},
        {2, 11, 64, 4, 3, true, 0, 1}, {2, 11, 64, 0.5f, 1e4f, true, 0, 0}, {2, 7, 33, 1, 3, false, 0, 0}, {2, 5, 9, 1, 30, true, 1, 0},
        {2, 64, 1, 1, 1, true, 2, 0}, {1, 64, 3, 1, 1, true, 2, 0}, {3, 33, 1, 1.7f, 2, true, 0, 0}, {3, 24, 5, 1, 2, true, 0, 0},
        {3, 200, 1, 1, 3, true, 0, 0}, {3, 200, 1, 1, 3, false, 0, 0}, {2, 40, 1, 1, 3, false, 0, 0}, {2, 400, 1, 1, 3, false, 0, 0},
        {2, 1000, 1, 1, 3, false, 0, 0}, {2, 1100, 1, 1, 3, false, 0, 0}, {2, 100, 5, 1, 3, false, 0, 0}, {40, 10, 1, 1, 3, false, 0, 0},
        {2, 256, 1, 1, 3, true, 2, 0}, {2, 1025, 1, 1, 3, true, 2, 0},
    };
    for (auto& c : cs) {
        size_t N = c.n * c.k * c.P;
        auto s = randv(N, rng, c.scale), t = randv(N, rng, c.scale);
        if (c.special == 1) t = s;
        if (c.special == 2) for (long i = 0; i < c.n; ++i) for (long j = 0; j < c.k; ++j) for (long p = 0; p < c.P; ++p) {
            s[(i * c.k + j) * c.P + p] = 0.1f * j; t[(i * c.k + j) * c.P + p] = 0.05f * j; }
        std::vector<LD> rg;
        LD rl = ref_ce(s, t, c.n, c.k, c.P, c.tau, 0.9f, rg);
        std::snprintf(name, sizeof name, "ce n%ld k%ld P%ld tau%g scale%g grad%d special%d off%d", c.n, c.k, c.P, c.tau, c.scale, c.grad, c.special, c.off);
        Result r = orders(name, [&](bool cu) { return call_ce(cu, s, t, c.n, c.k, c.P, c.tau, 0.9f, c.grad, c.off); });
        compare(name, r, rl, rg, c.grad);
        cpu_vs_cuda(name, r, call_ce(false, s, t, c.n, c.k, c.P, c.tau, 0.9f, c.grad, c.off));
    }
    std::printf("%d cases, %d failures\n", cases, failures);
    return failures ? 1 : 0;
}
