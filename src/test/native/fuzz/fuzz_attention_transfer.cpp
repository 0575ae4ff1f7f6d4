// libFuzzer target of dt_attention_transfer_f32 (and the argument checks of
// dt_cuda_attention_transfer_f32). What it asserts is described in fuzz_common.h and RELIABILITY.md.
#include "fuzz_common.h"

using namespace fuzz;

namespace {
// |x| in {0} or [1e-3, 1e3] for every element: the regime in which the gradient must be finite.
bool moderate(const std::vector<float>& x) {
    for (float v : x) {
        const float a = std::fabs(v);
        if (a != 0.0f && (a < 1e-3f || a > 1e3f)) return false;
    }
    return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in(data, size);
    const bool check = apply_settings(in);
    const uint8_t nulls = in.byte();
    const int64_t cs = in.dim(24), ct = in.dim(24), n = in.dim(3), h = in.dim(9), w = in.dim(9);
    const uint8_t psel = in.byte();
    const float pool_p = psel < 64 ? 2.0f : psel < 96 ? 1.0f : psel < 128 ? 3.0f : in.value();
    const int32_t distance = in.byte() < 240 ? in.byte() % 2 : static_cast<int32_t>(in.u32());
    const float eps = in.byte() < 128 ? 1e-12f : in.value();
    const float grad_scale = in.byte() < 128 ? 1.0f : in.value();
    const bool with_grad = in.byte() % 4 != 0;
    const bool null_s = nulls % 16 == 1, null_t = nulls % 16 == 2, null_l = nulls % 16 == 3;

    const int64_t count_s = checked_count({n, cs, h, w});
    const int64_t count_t = checked_count({n, ct, h, w});
    const char* bad = null_s ? "'student'" : null_t ? "'teacher'" : null_l ? "'loss'"
                    : cs <= 0 ? "'cs'" : ct <= 0 ? "'ct'" : n <= 0 ? "'n'" : h <= 0 ? "'h'" : w <= 0 ? "'w'"
                    : count_s < 0 ? "'n, cs, h, w'" : count_t < 0 ? "'n, ct, h, w'"
                    : !finite_positive(pool_p) ? "'pool_p'"
                    : (distance != 0 && distance != 1) ? "'distance'" : !finite_positive(eps) ? "'eps'"
                    : !std::isfinite(grad_scale) ? "'grad_scale'" : "";
    const Target target{"dt_attention_transfer_f32", "dt_cuda_attention_transfer_f32", "student", "teacher"};
    return run_call(
        in, target, check, bad, count_s, count_t, {null_s, null_t, null_l, with_grad},
        [&](const float* sp, const float* tp, float* lp, float* gp) {
            return dt_attention_transfer_f32(sp, cs, tp, ct, n, h, w, pool_p, distance, eps, grad_scale, lp, gp);
        },
        [&](const float* sp, const float* tp, float* lp, float* gp) {
            return dt_cuda_attention_transfer_f32(sp, cs, tp, ct, n, h, w, pool_p, distance, eps, grad_scale, lp, gp,
                                                  nullptr);
        },
        [&](const std::vector<float>& s, const std::vector<float>& t, float loss, const float* grad) {
            // The maps sum_c |x|^p are doubles: finite while C * max|x|^p < 1e300; the normalised maps
            // are then at most 1 in magnitude, so the loss is at most 4 (squared) or 2 (norm).
            const double m = std::max(max_abs(s.data(), count_s), max_abs(t.data(), count_t));
            const double c_max = static_cast<double>(std::max(cs, ct));
            const bool maps_finite = m == 0.0 || std::log10(c_max) + pool_p * std::log10(m) < 300.0;
            if (!maps_finite) return;
            FUZZ_ASSERT(std::isfinite(loss) && loss >= 0.0f && loss <= 4.0f,
                        "finite inputs gave the loss " + std::to_string(loss));
            if (grad && moderate(s) && moderate(t) && pool_p >= 0.5f && pool_p <= 4.0f && eps >= 1e-12f &&
                std::fabs(grad_scale) <= 1e6f)
                FUZZ_ASSERT(all_finite(grad, count_s), "moderate inputs gave a non-finite gradient");
        });
}
