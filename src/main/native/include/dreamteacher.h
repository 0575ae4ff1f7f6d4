/*
 * DreamTeacher fused distillation-loss kernels: the C ABI.
 *
 * Every function computes a loss and, in the same pass, its gradient with respect to the student
 * tensor. All tensors are contiguous float32, row-major, NCHW (positions P = H*W). The gradient is
 * dL/dstudent multiplied by grad_scale; a null gradient pointer means "forward only".
 *
 * On a bad argument a function returns DT_ERR_INVALID_ARGUMENT, writes nothing to its outputs, and
 * dt_last_error() returns a message (thread-local) that names the offending argument.
 *
 * Aliasing: the outputs (loss, grad_student) must not overlap the inputs (student, teacher, or the
 * logits) nor each other; the inputs may overlap each other. Every function checks this by address
 * range (host and device pointers alike, before anything is written) and returns
 * DT_ERR_INVALID_ARGUMENT naming both arguments: "<function>: argument 'grad_student' overlaps
 * argument 'student': outputs must not alias inputs or each other". The CUDA kernels declare their
 * pointers __restrict__, so an in-place call (grad_student == student) is never supported.
 *
 * Non-finite inputs (NaN, +Inf, -Inf in a tensor): by default they are not looked for, and they
 * propagate: a NaN or infinite input element gives a NaN or infinite loss (never a finite one that
 * hides it); the gradient may then hold NaN or Inf too. With the optional check on (see
 * dt_set_check_finite), the CPU functions scan their input tensors after the argument checks and
 * before writing anything; at the first non-finite element they return DT_ERR_NON_FINITE, write
 * nothing, and dt_last_error() names the tensor and the element:
 *   "<function>: tensor '<name>' holds a non-finite value (<nan|inf|-inf>) at index <i> (<coordinates>)"
 * with <i> the flat row-major index and the coordinates in the tensor's own dimensions: "(n=0, c=1,
 * h=2, w=3)", "(n, cs|ct, h, w)" for attention transfer, "(n, k, p)" for logits. The student is scanned
 * before the teacher. Scalar arguments (eps, temperature, pool_p, grad_scale) are always checked.
 *
 * CPU functions are synchronous and bit-identical for any dt_set_num_threads() value.
 * dt_cuda_* functions take device pointers (loss included) and a cudaStream_t (null = default
 * stream); they only enqueue work, so the results are ready once the stream is synchronised.
 */
#ifndef DREAMTEACHER_H
#define DREAMTEACHER_H

#include <stdint.h>

#if defined(_WIN32)
#  define DT_API __declspec(dllexport)
#else
#  define DT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DT_OK = 0,
    DT_ERR_INVALID_ARGUMENT = 1,
    DT_ERR_UNSUPPORTED = 2,
    DT_ERR_CUDA = 3,
    DT_ERR_NON_FINITE = 4  /* only with dt_set_check_finite(1): an input tensor holds NaN or Inf */
} dt_status;

/* Whitening of the teacher in dt_whitened_mse_f32. */
enum { DT_WHITEN_PER_SAMPLE = 0, /* LayerNorm over (C,H,W) of each sample */
       DT_WHITEN_PER_PIXEL = 1   /* LayerNorm over C at each (n,h,w)      */ };

/* Distance between normalised attention maps in dt_attention_transfer_f32. */
enum { DT_AT_SQUARED = 0, /* 1/(N*P) * sum (q_s - q_t)^2     */
       DT_AT_NORM = 1     /* 1/N * sum_n ||q_s,n - q_t,n||_2 */ };

/* L = 1/(N*C*H*W) * sum (s - LN(t))^2, LN without affine parameters, biased variance. */
DT_API dt_status dt_whitened_mse_f32(const float* student, const float* teacher,
    int64_t n, int64_t c, int64_t h, int64_t w, int32_t mode, float eps,
    float grad_scale, float* loss, float* grad_student);

/* A(x)_{n,p} = sum_c |x_{n,c,p}|^pool_p, q = A / max(||A_n||_2, eps); cs may differ from ct. */
DT_API dt_status dt_attention_transfer_f32(const float* student, int64_t cs,
    const float* teacher, int64_t ct, int64_t n, int64_t h, int64_t w,
    float pool_p, int32_t distance, float eps,
    float grad_scale, float* loss, float* grad_student);

/* Logits (N,K,P): L = 1/(N*P) * sum_{n,p} -sum_k softmax(t/T)_k * log_softmax(s/T)_k. */
DT_API dt_status dt_soft_target_ce_f32(const float* student_logits, const float* teacher_logits,
    int64_t n, int64_t k, int64_t positions, float temperature,
    float grad_scale, float* loss, float* grad_student);

/* Message of the last failure on the calling thread ("" if none). Valid until the next call. */
DT_API const char* dt_last_error(void);
DT_API const char* dt_version(void);
/* Threads used by the CPU kernels (default: hardware threads, or DT_NUM_THREADS). n <= 0 restores
 * the default. The results do not depend on this number. */
DT_API int32_t dt_num_threads(void);
DT_API void dt_set_num_threads(int32_t n);

/* The optional non-finite input check (see the top of this file), process-wide. on != 0 turns it on,
 * 0 off. Default: off, unless the environment variable DT_CHECK_FINITE is "1" when the library first
 * needs the setting. It costs one extra read of the inputs. The dt_cuda_* functions do not scan
 * device memory (that would need a synchronisation): their inputs propagate as described above; the
 * Java API checks CUDA tensors itself when the check is on. */
DT_API void dt_set_check_finite(int32_t on);
DT_API int32_t dt_check_finite(void);

/* CUDA: 1 if the library was built with CUDA and a device is usable, else 0 (see dt_last_error). */
DT_API int32_t dt_cuda_available(void);

DT_API dt_status dt_cuda_whitened_mse_f32(const float* student, const float* teacher,
    int64_t n, int64_t c, int64_t h, int64_t w, int32_t mode, float eps,
    float grad_scale, float* loss, float* grad_student, void* stream);

DT_API dt_status dt_cuda_attention_transfer_f32(const float* student, int64_t cs,
    const float* teacher, int64_t ct, int64_t n, int64_t h, int64_t w,
    float pool_p, int32_t distance, float eps,
    float grad_scale, float* loss, float* grad_student, void* stream);

DT_API dt_status dt_cuda_soft_target_ce_f32(const float* student_logits, const float* teacher_logits,
    int64_t n, int64_t k, int64_t positions, float temperature,
    float grad_scale, float* loss, float* grad_student, void* stream);

#ifdef __cplusplus
}
#endif

#endif /* DREAMTEACHER_H */
