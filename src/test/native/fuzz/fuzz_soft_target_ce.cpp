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
    const bool valid = bad[0] == '\0';
    // Keep the problem small: a valid call of more than 40,000 logits is skipped.
    if (valid && count > 40000) return 0;

    const int64_t len = valid ? count : 1;
    std::vector<float> s = in.values(len), t = in.values(len);
    Outputs out(len);
    const float* sp = null_s ? nullptr : s.data();
    const float* tp = null_t ? nullptr : t.data();
    float* lp = null_l ? nullptr : out.loss.data();
    float* gp = with_grad ? out.grad.data() : nullptr;

    dt_status st = dt_soft_target_ce_f32(sp, tp, n, k, positions, temperature, grad_scale, lp, gp);
    if (!valid) {
        check_rejected("dt_soft_target_ce_f32", st, bad, out);
        st = dt_cuda_soft_target_ce_f32(sp, tp, n, k, positions, temperature, grad_scale, lp, gp, nullptr);
        check_rejected("dt_cuda_soft_target_ce_f32", st, bad, out);
        return 0;
    }
    const int64_t bad_s = first_bad(s.data(), count), bad_t = first_bad(t.data(), count);
    if (check && (bad_s >= 0 || bad_t >= 0)) {
        check_non_finite_reported("dt_soft_target_ce_f32", st, bad_s >= 0 ? "student_logits" : "teacher_logits",
                                  bad_s >= 0 ? bad_s : bad_t, out);
        return 0;
    }
    FUZZ_ASSERT(st == DT_OK, "status " + std::to_string(st) + ": " + message());
    const float loss = out.loss[0];
    if (bad_s >= 0 || bad_t >= 0) {
        FUZZ_ASSERT(!std::isfinite(loss), "a non-finite input gave the finite loss " + std::to_string(loss));
    } else {
        // loss <= log K + max|s_k - s_j| / T: finite unless that exceeds float's range; the gradient
        // is at most |grad_scale| / (T*N*P) per element.
        const double spread = 2.0 * std::max(max_abs(s.data(), count), max_abs(t.data(), count)) / temperature;
        if (spread < 1e37) {
            FUZZ_ASSERT(std::isfinite(loss) && loss >= 0.0f, "finite logits gave the loss " + std::to_string(loss));
            if (with_grad && std::fabs(grad_scale) / temperature < 1e37)
                FUZZ_ASSERT(all_finite(out.grad.data(), count), "finite logits gave a non-finite gradient");
        }
    }
    float forward = kSentinel;
    FUZZ_ASSERT(dt_soft_target_ce_f32(sp, tp, n, k, positions, temperature, grad_scale, &forward, nullptr) == DT_OK,
                message());
    FUZZ_ASSERT(std::memcmp(&forward, &loss, sizeof loss) == 0, "forward-only loss differs");
    if (!dt_cuda_available()) {
        Outputs cuda_out(1);
        st = dt_cuda_soft_target_ce_f32(sp, tp, n, k, positions, temperature, grad_scale, cuda_out.loss.data(),
                                        nullptr, nullptr);
        FUZZ_ASSERT(st == DT_ERR_UNSUPPORTED && cuda_out.untouched(), message());
    }
    return 0;
}
