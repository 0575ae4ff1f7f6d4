// libFuzzer target of dt_whitened_mse_f32 (and the argument checks of dt_cuda_whitened_mse_f32).
// What it asserts is described in fuzz_common.h and RELIABILITY.md.
#include "fuzz_common.h"

using namespace fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in(data, size);
    const bool check = apply_settings(in);
    const uint8_t nulls = in.byte();
    const int64_t n = in.dim(3), c = in.dim(24), h = in.dim(9), w = in.dim(9);
    const int32_t mode = in.byte() < 240 ? in.byte() % 2 : static_cast<int32_t>(in.u32());
    const float eps = in.byte() < 128 ? 1e-5f : in.value();
    const float grad_scale = in.byte() < 128 ? 1.0f : in.value();
    const bool with_grad = in.byte() % 4 != 0;
    const bool null_s = nulls % 16 == 1, null_t = nulls % 16 == 2, null_l = nulls % 16 == 3;

    // The first bad argument, in the C ABI's order of checks ("" if none).
    const int64_t count = checked_count({n, c, h, w});
    const char* bad = null_s ? "'student'" : null_t ? "'teacher'" : null_l ? "'loss'"
                    : n <= 0 ? "'n'" : c <= 0 ? "'c'" : h <= 0 ? "'h'" : w <= 0 ? "'w'"
                    : count < 0 ? "'n, c, h, w'"
                    : (mode != 0 && mode != 1) ? "'mode'" : !finite_positive(eps) ? "'eps'"
                    : !std::isfinite(grad_scale) ? "'grad_scale'" : "";
    const Target target{"dt_whitened_mse_f32", "dt_cuda_whitened_mse_f32", "student", "teacher"};
    return run_call(
        in, target, check, bad, count, count, {null_s, null_t, null_l, with_grad},
        [&](const float* sp, const float* tp, float* lp, float* gp) {
            return dt_whitened_mse_f32(sp, tp, n, c, h, w, mode, eps, grad_scale, lp, gp);
        },
        [&](const float* sp, const float* tp, float* lp, float* gp) {
            return dt_cuda_whitened_mse_f32(sp, tp, n, c, h, w, mode, eps, grad_scale, lp, gp, nullptr);
        },
        [&](const std::vector<float>& s, const std::vector<float>&, float loss, const float* grad) {
            if (max_abs(s.data(), count) > 1e18f) return;
            // (|s| + |W(t)|)^2 with |W(t)| <= sqrt(group size): far below FLT_MAX.
            FUZZ_ASSERT(std::isfinite(loss) && loss >= 0.0f, "finite inputs gave the loss " + std::to_string(loss));
            if (grad && std::fabs(grad_scale) <= 1e18f)
                FUZZ_ASSERT(all_finite(grad, count), "finite inputs gave a non-finite gradient");
        });
}
