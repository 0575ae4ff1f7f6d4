/*
 * Internal header shared by the C ABI (c_abi.cpp), the CPU kernels (the .cpp files of src/main/native) and the
 * CUDA kernels (the .cu files of cuda/). Arguments reaching the kernels have already been validated by the C ABI:
 * pointers required by the contract are non-null, sizes are > 0 and their products fit in int64_t,
 * eps / temperature / pool_p are finite and > 0, mode and distance are known values.
 */
#ifndef DT_INTERNAL_H
#define DT_INTERNAL_H

#include <cstdint>
#include "dreamteacher.h"

namespace dt {

struct WhitenedMseArgs {
    const float* student;   // (n, c, h, w)
    const float* teacher;   // (n, c, h, w)
    int64_t n, c, h, w;
    int32_t mode;           // DT_WHITEN_PER_SAMPLE | DT_WHITEN_PER_PIXEL
    float eps;
    float grad_scale;
    float* loss;            // one float
    float* grad_student;    // (n, c, h, w) or nullptr (forward only)
};

struct AttentionTransferArgs {
    const float* student;   // (n, cs, h, w)
    int64_t cs;
    const float* teacher;   // (n, ct, h, w)
    int64_t ct;
    int64_t n, h, w;
    float pool_p;
    int32_t distance;       // DT_AT_SQUARED | DT_AT_NORM
    float eps;
    float grad_scale;
    float* loss;
    float* grad_student;    // (n, cs, h, w) or nullptr
};

struct SoftTargetCeArgs {
    const float* student_logits;  // (n, k, positions)
    const float* teacher_logits;  // (n, k, positions)
    int64_t n, k, positions;
    float temperature;
    float grad_scale;
    float* loss;
    float* grad_student;          // (n, k, positions) or nullptr
};

// Records the calling thread's error message (printf-style); returned by dt_last_error().
void set_error(const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

namespace cpu {
// Synchronous, multi-threaded, results independent of the thread count.
void whitened_mse(const WhitenedMseArgs& a);
void attention_transfer(const AttentionTransferArgs& a);
void soft_target_ce(const SoftTargetCeArgs& a);
}  // namespace cpu

namespace cuda {
// 1 if built with CUDA and a device is usable; otherwise 0 and *why (static string) says why.
int available(const char** why);
// Enqueue on `stream`; return DT_OK or DT_ERR_CUDA (after set_error) / DT_ERR_UNSUPPORTED.
dt_status whitened_mse(const WhitenedMseArgs& a, void* stream);
dt_status attention_transfer(const AttentionTransferArgs& a, void* stream);
dt_status soft_target_ce(const SoftTargetCeArgs& a, void* stream);
}  // namespace cuda

}  // namespace dt

#endif  // DT_INTERNAL_H
