// A/B timing of the CPU kernels of two or more builds of libdreamteacher.so, in one process.
//
// On a shared machine the speed of memory and cores drifts by 2x within minutes, so two builds timed
// one after the other (two JMH runs) cannot show a 10-20% change. Here the builds are loaded side by side
// (dlopen, RTLD_LOCAL) and called in turn on the same inputs, round after round (in reverse order every
// other round), with a STREAM-like triad over the same bytes in each round: drift hits every build alike,
// and the medians compare. This is a tool for deciding whether a kernel change helps; the committed
// speed figures come from JMH (benchmarks/run.sh).
//
// usage: ab SPEC ROUNDS LIB [LIB...]
//   SPEC  mse:N,C,H,W,MODE        (MODE 0 per-sample, 1 per-pixel)
//         at:N,CS,CT,H,W,POOL_P   (distance SQUARED)
//         ce:N,K,P,TAU
// Prints per build the median and lower quartile per call, GB/s (bytes the kernel must move / median),
// the loss, and the largest gradient difference from the first build (0 when the builds agree bit for bit).
#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "dreamteacher.h"

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<float> gaussian(size_t n, unsigned seed, float sigma) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.f, sigma);
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return v;
}

struct Build {
    std::string path;
    decltype(&dt_whitened_mse_f32) mse;
    decltype(&dt_attention_transfer_f32) at;
    decltype(&dt_soft_target_ce_f32) ce;
};

// A build's name in the table: the folder that holds its library (ab.sh: rev-<sha>, worktree).
std::string label(const std::string& path) {
    const size_t end = path.rfind('/');
    if (end == std::string::npos || end == 0) return path;
    const size_t slash = path.rfind('/', end - 1);
    const size_t begin = slash == std::string::npos ? 0 : slash + 1;
    return path.substr(begin, end - begin);
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "ab: %s\nusage: ab SPEC ROUNDS LIB [LIB...]  (SPEC: mse:N,C,H,W,MODE | at:N,CS,CT,H,W,POOL_P | ce:N,K,P,TAU)\n", why);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) usage("too few arguments");
    const std::string spec = argv[1];
    const int rounds = std::atoi(argv[2]);
    if (rounds < 4) usage("ROUNDS must be at least 4");
    std::vector<Build> builds;
    for (int i = 3; i < argc; ++i) {
        void* h = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) usage(dlerror());
        builds.push_back({argv[i], reinterpret_cast<decltype(&dt_whitened_mse_f32)>(dlsym(h, "dt_whitened_mse_f32")),
                          reinterpret_cast<decltype(&dt_attention_transfer_f32)>(dlsym(h, "dt_attention_transfer_f32")),
                          reinterpret_cast<decltype(&dt_soft_target_ce_f32)>(dlsym(h, "dt_soft_target_ce_f32"))});
        if (!builds.back().mse || !builds.back().at || !builds.back().ce) usage("a library lacks a dt_* function");
    }
    const size_t colon = spec.find(':');
    if (colon == std::string::npos) usage("SPEC has no ':'");
    const std::string kind = spec.substr(0, colon);
    long d[6] = {0, 0, 0, 0, 0, 0};
    const int got = std::sscanf(spec.c_str() + colon + 1, "%ld,%ld,%ld,%ld,%ld,%ld", &d[0], &d[1], &d[2], &d[3], &d[4], &d[5]);

    std::vector<float> s, t, g;
    double bytes = 0;
    std::function<int(const Build&, float*)> call;
    if (kind == "mse" && got == 5) {
        const size_t e = d[0] * d[1] * d[2] * d[3];
        s = gaussian(e, 1, 1.f), t = gaussian(e, 2, 1.f), g.resize(e), bytes = 12.0 * e;
        call = [&](const Build& b, float* loss) {
            return (int)b.mse(s.data(), t.data(), d[0], d[1], d[2], d[3], (int32_t)d[4], 1e-5f, 1.f, loss, g.data());
        };
    } else if (kind == "at" && got == 6) {
        const size_t es = d[0] * d[1] * d[3] * d[4], et = d[0] * d[2] * d[3] * d[4];
        s = gaussian(es, 3, 1.f), t = gaussian(et, 4, 1.f), g.resize(es), bytes = 4.0 * (2 * es + et);
        call = [&](const Build& b, float* loss) {
            return (int)b.at(s.data(), d[1], t.data(), d[2], d[0], d[3], d[4], (float)d[5], DT_AT_SQUARED, 1e-12f, 1.f, loss, g.data());
        };
    } else if (kind == "ce" && got == 4) {
        const size_t e = d[0] * d[1] * d[2];
        s = gaussian(e, 5, 3.f), t = gaussian(e, 6, 3.f), g.resize(e), bytes = 12.0 * e;
        call = [&](const Build& b, float* loss) {
            return (int)b.ce(s.data(), t.data(), d[0], d[1], d[2], (float)d[3], 1.f, loss, g.data());
        };
    } else {
        usage("bad SPEC");
    }

    // The triad runs on OpenMP's default thread count (all cores, or OMP_NUM_THREADS), as the kernels
    // use all cores by default.
    const size_t n = static_cast<size_t>(bytes / 12);
    std::vector<float> ta(n), tb(n, 1.f), tc(n, 2.f);
    auto triad = [&] {
        float* a = ta.data();
        const float* b = tb.data();
        const float* c = tc.data();
        const long len = static_cast<long>(n);
#pragma omp parallel for schedule(static)
        for (long i = 0; i < len; ++i) a[i] = b[i] + 3.f * c[i];
    };

    std::vector<std::vector<double>> times(builds.size() + 1);
    std::vector<float> losses(builds.size());
    std::vector<std::vector<float>> grads(builds.size());
    for (int r = -3; r < rounds; ++r) {  // 3 warm-up rounds
        // Odd rounds call the builds in reverse order, so that none always runs first after the triad.
        for (size_t j = 0; j < builds.size(); ++j) {
            const size_t i = (r & 1) ? builds.size() - 1 - j : j;
            const double t0 = now();
            const int status = call(builds[i], &losses[i]);
            const double t1 = now();
            if (status != DT_OK) usage("a kernel call failed (check the shape)");
            if (r >= 0) times[i].push_back(t1 - t0);
            if (r == 0) grads[i] = g;
        }
        const double t0 = now();
        triad();
        if (r >= 0) times.back().push_back(now() - t0);
    }
    for (size_t i = 0; i <= builds.size(); ++i) {
        std::vector<double> v = times[i];
        std::sort(v.begin(), v.end());
        const double median = v[v.size() / 2], quartile = v[v.size() / 4];
        std::printf("%-24s median %9.1f us  p25 %9.1f us  %6.1f GB/s", i < builds.size() ? label(builds[i].path).c_str() : "triad (same bytes)",
                    median * 1e6, quartile * 1e6, bytes / median / 1e9);
        if (i < builds.size()) {
            double diff = 0;
            for (size_t j = 0; j < g.size(); ++j) diff = std::max(diff, (double)std::fabs(grads[i][j] - grads[0][j]));
            std::printf("  loss %.9g  max |grad - first build's| %.3g", losses[i], diff);
        }
        std::printf("\n");
    }
    return 0;
}
