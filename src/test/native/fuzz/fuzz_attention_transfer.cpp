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
    const bool valid = bad[0] == '\0';
    // Keep the problem small: a valid call of more than 40,000 elements is skipped.
    if (valid && (count_s > 40000 || count_t > 40000)) return 0;

    const int64_t len_s = valid ? count_s : 1, len_t = valid ? count_t : 1;
    std::vector<float> s = in.values(len_s), t = in.values(len_t);
    Outputs out(len_s);
    const float* sp = null_s ? nullptr : s.data();
    const float* tp = null_t ? nullptr : t.data();
    float* lp = null_l ? nullptr : out.loss.data();
    float* gp = with_grad ? out.grad.data() : nullptr;

    dt_status st = dt_attention_transfer_f32(sp, cs, tp, ct, n, h, w, pool_p, distance, eps, grad_scale, lp, gp);
    if (!valid) {
        check_rejected("dt_attention_transfer_f32", st, bad, out);
        st = dt_cuda_attention_transfer_f32(sp, cs, tp, ct, n, h, w, pool_p, distance, eps, grad_scale, lp, gp, nullptr);
        check_rejected("dt_cuda_attention_transfer_f32", st, bad, out);
        return 0;
    }
    const int64_t bad_s = first_bad(s.data(), count_s), bad_t = first_bad(t.data(), count_t);
    if (check && (bad_s >= 0 || bad_t >= 0)) {
        check_non_finite_reported("dt_attention_transfer_f32", st, bad_s >= 0 ? "student" : "teacher",
                                  bad_s >= 0 ? bad_s : bad_t, out);
        return 0;
    }
    FUZZ_ASSERT(st == DT_OK, "status " + std::to_string(st) + ": " + message());
    const float loss = out.loss[0];
    if (bad_s >= 0 || bad_t >= 0) {
        FUZZ_ASSERT(!std::isfinite(loss), "a non-finite input gave the finite loss " + std::to_string(loss));
    } else {
        // The maps sum_c |x|^p are doubles: finite while C * max|x|^p < 1e300; the normalised maps
        // are then at most 1 in magnitude, so the loss is at most 4 (squared) or 2 (norm).
        const double m = std::max(max_abs(s.data(), count_s), max_abs(t.data(), count_t));
        const double c_max = static_cast<double>(std::max(cs, ct));
        const bool maps_finite = m == 0.0 || std::log10(c_max) + pool_p * std::log10(m) < 300.0;
        if (maps_finite) {
            FUZZ_ASSERT(std::isfinite(loss) && loss >= 0.0f && loss <= 4.0f,
                        "finite inputs gave the loss " + std::to_string(loss));
            if (with_grad && moderate(s) && moderate(t) && pool_p >= 0.5f && pool_p <= 4.0f && eps >= 1e-12f &&
                std::fabs(grad_scale) <= 1e6f)
                FUZZ_ASSERT(all_finite(out.grad.data(), count_s), "moderate inputs gave a non-finite gradient");
        }
    }
    float forward = kSentinel;
    FUZZ_ASSERT(dt_attention_transfer_f32(sp, cs, tp, ct, n, h, w, pool_p, distance, eps, grad_scale, &forward,
                                          nullptr) == DT_OK, message());
    FUZZ_ASSERT(std::memcmp(&forward, &loss, sizeof loss) == 0, "forward-only loss differs");
    if (!dt_cuda_available()) {
        Outputs cuda_out(1);
        st = dt_cuda_attention_transfer_f32(sp, cs, tp, ct, n, h, w, pool_p, distance, eps, grad_scale,
                                            cuda_out.loss.data(), nullptr, nullptr);
        FUZZ_ASSERT(st == DT_ERR_UNSUPPORTED && cuda_out.untouched(), message());
    }
    return 0;
}
