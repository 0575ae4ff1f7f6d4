"""The ctypes binding of the C ABI (src/main/native/include/dreamteacher.h), shared by
cuda/test/gpu_parity.py and benchmarks/gpu/bench_gpu.py.

Standard library only (PyTorch is imported by import_torch_cuda() when a script asks for it), so the
scripts that import this module still answer --help on a machine without PyTorch.
"""
import ctypes
import os
import struct

# Exit status of a script that had nothing to run on (no PyTorch or no CUDA device), as automake's.
SKIP = 77

# dt_status
DT_OK, DT_ERR_INVALID_ARGUMENT, DT_ERR_UNSUPPORTED, DT_ERR_CUDA, DT_ERR_NON_FINITE = 0, 1, 2, 3, 4
# Whitening of the teacher in dt_[cuda_]whitened_mse_f32.
WHITEN_PER_SAMPLE, WHITEN_PER_PIXEL = 0, 1
# Distance between normalised attention maps in dt_[cuda_]attention_transfer_f32.
AT_SQUARED, AT_NORM = 0, 1

# The kernels, by the short names the scripts use on their command lines.
KINDS = ("wmse", "at", "ce")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_P, _I64, _I32, _F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32, ctypes.c_float
_STATUS = ctypes.c_int
# Every function of dreamteacher.h: name -> (restype, argtypes).
SIGNATURES = {
    "dt_whitened_mse_f32": (_STATUS, [_P, _P, _I64, _I64, _I64, _I64, _I32, _F, _F, _P, _P]),
    "dt_attention_transfer_f32": (_STATUS, [_P, _I64, _P, _I64, _I64, _I64, _I64, _F, _I32, _F, _F,
                                            _P, _P]),
    "dt_soft_target_ce_f32": (_STATUS, [_P, _P, _I64, _I64, _I64, _F, _F, _P, _P]),
    "dt_last_error": (ctypes.c_char_p, []),
    "dt_version": (ctypes.c_char_p, []),
    "dt_num_threads": (_I32, []),
    "dt_set_num_threads": (None, [_I32]),
    "dt_set_check_finite": (None, [_I32]),
    "dt_check_finite": (_I32, []),
    "dt_cuda_available": (_I32, []),
    "dt_cuda_whitened_mse_f32": (_STATUS, [_P, _P, _I64, _I64, _I64, _I64, _I32, _F, _F, _P, _P, _P]),
    "dt_cuda_attention_transfer_f32": (_STATUS, [_P, _I64, _P, _I64, _I64, _I64, _I64, _F, _I32, _F,
                                                 _F, _P, _P, _P]),
    "dt_cuda_soft_target_ce_f32": (_STATUS, [_P, _P, _I64, _I64, _I64, _F, _F, _P, _P, _P]),
}


def default_library_path():
    """$DT_LIB, or build-gpu/libdreamteacher.so under the repository root (where the GPU scripts'
    CMake build puts it)."""
    return os.environ.get("DT_LIB") or os.path.join(REPO_ROOT, "build-gpu", "libdreamteacher.so")


def load_library(path):
    """The library at `path` with argtypes and restype set for every function of dreamteacher.h."""
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = restype
    return lib


def last_error(lib):
    """dt_last_error() of the calling thread as text."""
    return lib.dt_last_error().decode(errors="replace")


def version(lib):
    return lib.dt_version().decode(errors="replace")


def f32(x):
    """x rounded to float32, as the kernels receive it."""
    return struct.unpack("f", struct.pack("f", x))[0]


def import_torch_cuda():
    """(torch, None) when PyTorch imports and sees a CUDA device, else (None, the reason)."""
    try:
        import torch
    except ImportError as e:
        return None, "PyTorch is not importable (%s)" % e
    if not torch.cuda.is_available():
        return None, "no CUDA device (torch.cuda.is_available() is False)"
    return torch, None


def ptr(tensor):
    """A torch tensor's data pointer for ctypes (None stays None: a null pointer)."""
    return None if tensor is None else ctypes.c_void_p(tensor.data_ptr())


def current_stream(torch):
    """torch's current CUDA stream as a cudaStream_t for ctypes."""
    return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)


def bind(lib, kind, student, teacher, params, grad_scale, loss, grad, stream=None, cuda=True):
    """A zero-argument callable that makes one kernel call and returns its dt_status.

    kind: "wmse" (student and teacher (N,C,H,W)), "at" (student (N,Cs,H,W), teacher (N,Ct,H,W)) or
    "ce" (logits (N,K,P)); the tensors are contiguous float32 torch tensors, on the device for the
    dt_cuda_* function (cuda=True) or on the host for the CPU one. params: wmse {"mode", "eps"},
    at {"p", "dist", "eps"}, ce {"tau"}. loss: a 1-element tensor; grad: like student, or None for
    forward only. stream: a cudaStream_t (int or ctypes.c_void_p; None = the default stream), ignored
    for the CPU functions. The arguments are converted once, here, so that calling the result costs
    one ctypes call.
    """
    s, t = ptr(student), ptr(teacher)
    lo, g = ptr(loss), ptr(grad)
    gs = _F(grad_scale)
    if kind == "wmse":
        n, c, h, w = student.shape
        fn = lib.dt_cuda_whitened_mse_f32 if cuda else lib.dt_whitened_mse_f32
        args = (s, t, _I64(n), _I64(c), _I64(h), _I64(w), _I32(params["mode"]), _F(params["eps"]),
                gs, lo, g)
    elif kind == "at":
        n, cs, h, w = student.shape
        ct = teacher.shape[1]
        fn = lib.dt_cuda_attention_transfer_f32 if cuda else lib.dt_attention_transfer_f32
        args = (s, _I64(cs), t, _I64(ct), _I64(n), _I64(h), _I64(w), _F(params["p"]),
                _I32(params["dist"]), _F(params["eps"]), gs, lo, g)
    elif kind == "ce":
        n, k, pos = student.shape
        fn = lib.dt_cuda_soft_target_ce_f32 if cuda else lib.dt_soft_target_ce_f32
        args = (s, t, _I64(n), _I64(k), _I64(pos), _F(params["tau"]), gs, lo, g)
    else:
        raise ValueError("unknown kernel %r (one of %s)" % (kind, ", ".join(KINDS)))
    if cuda:
        args += (stream if isinstance(stream, ctypes.c_void_p) else ctypes.c_void_p(stream),)
    return lambda: fn(*args)
