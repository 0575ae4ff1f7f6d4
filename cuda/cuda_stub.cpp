// The CUDA entry points of a build without nvcc: the cuda backend reports itself unavailable and
// the launchers (never reached through the C ABI, which checks available() first) refuse to run.
#include "dt_internal.h"

namespace dt {
namespace cuda {

namespace {
const char* const kNoCuda = "the library was built without CUDA (nvcc was not found at build time)";

dt_status unsupported(const char* fn) {
    set_error("%s: %s", fn, kNoCuda);
    return DT_ERR_UNSUPPORTED;
}
}  // namespace

int available(const char** why) {
    if (why != nullptr) *why = kNoCuda;
    return 0;
}

dt_status whitened_mse(const WhitenedMseArgs&, void*) {
    return unsupported("dt_cuda_whitened_mse_f32");
}

dt_status attention_transfer(const AttentionTransferArgs&, void*) {
    return unsupported("dt_cuda_attention_transfer_f32");
}

dt_status soft_target_ce(const SoftTargetCeArgs&, void*) {
    return unsupported("dt_cuda_soft_target_ce_f32");
}

}  // namespace cuda
}  // namespace dt
