// libFuzzer target of dt_soft_target_ce_f32 (and the argument checks of dt_cuda_soft_target_ce_f32).
// What it asserts is described in fuzz_common.h and RELIABILITY.md.
#include "fuzz_common.h"

using namespace fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in(data, size);
    const bool check = apply_settings(in);
    const uint8_t nulls = in.byte();
    // Sizes that reach every path: P == 1 with K < 32 (transposed rows) and K >= 32, P > 1.
    const int64_t n = in.dim(70), k = in.dim(in.byte() < 128 ? 12 : 300), positions = in.dim(in.byte() < 128 ? 1 : 40);
    const float temperature = in.byte() < 128 ? 4.0f : in.value();
    const float grad_scale = in.byte() < 128 ? 1.0f : in.value();
    const bool with_grad = in.byte() % 4 != 0;
    const bool null_s = nulls % 16 == 1, null_t = nulls % 16 == 2, null_l = nulls % 16 == 3;

    const int64_t count = checked_count({n, k, positions});
    const char* bad = null_s ? "'student_logits'" : null_t ? "'teacher_logits'" : null_l ? "'loss'"
                    : n <= 0 ? "'n'" : k <= 0 ? "'k'" : positions <= 0 ? "'positions'"
                    : count < 0 ? "'n, k, positions'" : !finite_positive(temperature) ? "'temperature'"
                    : !std::isfinite(grad_scale) ? "'grad_scale'" : "";
    const Target target{"dt_soft_target_ce_f32", "dt_cuda_soft_target_ce_f32", "student_logits", "teacher_logits"};
    return run_call(
        in, target, check, bad, count, count, {null_s, null_t, null_l, with_grad},
        [&](const float* sp, const float* tp, float* lp, float* gp) {
            return dt_soft_target_ce_f32(sp, tp, n, k, positions, temperature, grad_scale, lp, gp);
        },
        [&](const float* sp, const float* tp, float* lp, float* gp) {
            return dt_cuda_soft_target_ce_f32(sp, tp, n, k, positions, temperature, grad_scale, lp, gp, nullptr);
        },
        [&](const std::vector<float>& s, const std::vector<float>& t, float loss, const float* grad) {
            // loss <= log K + max|s_k - s_j| / T: finite unless that exceeds float's range; the gradient
            // is at most |grad_scale| / (T*N*P) per element.
            const double spread = 2.0 * std::max(max_abs(s.data(), count), max_abs(t.data(), count)) / temperature;
            if (spread >= 1e37) return;
            FUZZ_ASSERT(std::isfinite(loss) && loss >= 0.0f, "finite logits gave the loss " + std::to_string(loss));
            if (grad && std::fabs(grad_scale) / temperature < 1e37)
                FUZZ_ASSERT(all_finite(grad, count), "finite logits gave a non-finite gradient");
        });
}
