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
                    : count < 0 ? "'n, c, h, w' overflow"
                    : (mode != 0 && mode != 1) ? "'mode'" : !finite_positive(eps) ? "'eps'"
                    : !std::isfinite(grad_scale) ? "'grad_scale'" : "";
    const bool valid = bad[0] == '\0';
    // Keep the problem small: a valid call of more than 40,000 elements (a huge dimension that does
    // not overflow) is skipped, as its buffers could not be allocated.
    if (valid && count > 40000) return 0;
    const std::string bad_name = std::string(bad).substr(0, std::string(bad).find(" overflow"));

    // Valid calls get buffers of exactly the tensor size; rejected ones a single float (never read).
    const int64_t len = valid ? count : 1;
    std::vector<float> s = in.values(len), t = in.values(len);
    Outputs out(len);
    const float* sp = null_s ? nullptr : s.data();
    const float* tp = null_t ? nullptr : t.data();
    float* lp = null_l ? nullptr : out.loss.data();
    float* gp = with_grad ? out.grad.data() : nullptr;

    dt_status st = dt_whitened_mse_f32(sp, tp, n, c, h, w, mode, eps, grad_scale, lp, gp);
    if (!valid) {
        check_rejected("dt_whitened_mse_f32", st, bad_name.c_str(), out);
        st = dt_cuda_whitened_mse_f32(sp, tp, n, c, h, w, mode, eps, grad_scale, lp, gp, nullptr);
        check_rejected("dt_cuda_whitened_mse_f32", st, bad_name.c_str(), out);
        return 0;
    }
    const int64_t bad_s = first_bad(s.data(), count), bad_t = first_bad(t.data(), count);
    if (check && (bad_s >= 0 || bad_t >= 0)) {
        check_non_finite_reported("dt_whitened_mse_f32", st, bad_s >= 0 ? "student" : "teacher",
                                  bad_s >= 0 ? bad_s : bad_t, out);
        return 0;
    }
    FUZZ_ASSERT(st == DT_OK, "status " + std::to_string(st) + ": " + message());
    const float loss = out.loss[0];
    if (bad_s >= 0 || bad_t >= 0) {
        FUZZ_ASSERT(!std::isfinite(loss), "a non-finite input gave the finite loss " + std::to_string(loss));
    } else if (max_abs(s.data(), count) <= 1e18f) {
        // (|s| + |W(t)|)^2 with |W(t)| <= sqrt(group size): far below FLT_MAX.
        FUZZ_ASSERT(std::isfinite(loss) && loss >= 0.0f, "finite inputs gave the loss " + std::to_string(loss));
        if (with_grad && std::fabs(grad_scale) <= 1e18f)
            FUZZ_ASSERT(all_finite(out.grad.data(), count), "finite inputs gave a non-finite gradient");
    }
    // The forward-only loss is the same number.
    float forward = kSentinel;
    FUZZ_ASSERT(dt_whitened_mse_f32(sp, tp, n, c, h, w, mode, eps, grad_scale, &forward, nullptr) == DT_OK, message());
    FUZZ_ASSERT(std::memcmp(&forward, &loss, sizeof loss) == 0, "forward-only loss differs");
    // Without a usable device the CUDA entry point refuses valid arguments and writes nothing.
    if (!dt_cuda_available()) {
        Outputs cuda_out(1);
        st = dt_cuda_whitened_mse_f32(sp, tp, n, c, h, w, mode, eps, grad_scale, cuda_out.loss.data(), nullptr, nullptr);
        FUZZ_ASSERT(st == DT_ERR_UNSUPPORTED && cuda_out.untouched(), message());
    }
    return 0;
}
