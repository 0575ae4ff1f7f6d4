#!/usr/bin/env python3
"""GPU timings of the fused dt_cuda_* kernels of libdreamteacher.so.

Each case times one kernel call (loss and gradient of the student, through the C ABI with ctypes,
enqueued on torch's current stream) against
  eager    the same formula in PyTorch composite ops, forward and autograd backward to the student
           (what a PyTorch user writes: layer_norm + mse_loss; abs().pow(p).sum(1) + normalize +
           distance; softmax * log_softmax);
  compile  torch.compile of that formula (static shapes, one graph), forward and backward;
  copy     a device-to-device copy that moves as many bytes as the kernel must (inputs read once,
           gradient written once; the copy reads half of them and writes the other half): the DRAM
           roofline.
A time is the median over 7 batches of N back-to-back calls, each batch between two CUDA events
after a warm-up, divided by N. That is GPU throughput; it includes the host's launch overhead
wherever the host is slower than the GPU (tiny shapes, eager autograd), as in a training loop. Before
a case is timed, the kernel's loss and gradient are compared with eager's (float32, within 1e-3), so
a broken build cannot post a time; cuda/test/gpu_parity.py is the real parity check.

Prints a Markdown table on stdout (progress goes to stderr) and writes every measurement, with the
GPU's name, the torch and CUDA versions and the command line, to a JSON file (rewritten after every
case, so an interrupted run keeps what it measured).

Exit status: 0 done, 1 the library is missing or a kernel failed or disagreed with PyTorch, 77 skipped
(no PyTorch or no CUDA device). Only the standard library (and cuda/test/dtlib.py, which uses nothing
else) is imported before the arguments are parsed, so --help works anywhere.
"""
import argparse
import datetime
import gc
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "cuda", "test"))
import dtlib  # noqa: E402
from dtlib import SKIP, AT_SQUARED, WHITEN_PER_SAMPLE  # noqa: E402

DEVICE = "cuda"        # where the tensors live
BATCHES = 7            # timed batches per measurement; the median is reported
ITERS = 50             # calls per batch (--iters)
QUICK_ITERS = 10       # calls per batch with --quick
WARMUP = 3             # untimed calls before the batches (--quick: 1)
CHECK_TOL = 1e-3       # kernel vs eager float32: loss relative error, gradient error / max|grad|
SEED = 1234

NAMES = {"wmse": "whitened MSE", "at": "attention transfer", "ce": "soft-target CE"}
SHAPE_LEGEND = {"wmse": "N×C×H×W", "at": "N×Cs×Ct×H×W", "ce": "N×K×P"}
# The JMH suite's shapes (benchmarks/src/main/java/org/dreamteacher/benchmarks), then larger ones.
JMH_SHAPES = {
    "wmse": [(64, 256, 16, 16), (32, 512, 8, 8), (16, 64, 64, 64)],
    "at": [(64, 256, 512, 16, 16)],
    "ce": [(64, 10, 1), (4096, 1000, 1), (16, 21, 4096)],
}
LARGE_SHAPES = {
    "wmse": [(64, 512, 64, 64), (256, 256, 32, 32)],
    "at": [(256, 256, 512, 32, 32)],
    "ce": [(65536, 1000, 1), (64, 21, 65536)],
}


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an integer" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1 (got %d)" % value)
    return value


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Time the dt_cuda_* kernels of libdreamteacher.so against PyTorch eager, "
                    "torch.compile and a device-to-device copy of the same bytes. Prints a Markdown "
                    "table and writes a JSON file. Needs PyTorch and a CUDA device (exits 77 "
                    "without either).")
    p.add_argument("--lib", default=dtlib.default_library_path(),
                   help="path of libdreamteacher.so built with CUDA "
                        "(default: $DT_LIB or build-gpu/libdreamteacher.so)")
    p.add_argument("--out", help="JSON file to write (default: benchmarks/gpu/results/"
                                 "<date>-<gpu-name>.json; -quick and -<kernel> are appended to the "
                                 "name for --quick and --only runs)")
    p.add_argument("--quick", action="store_true",
                   help="the JMH suite's shapes only, %d calls per batch (unless --iters), 1 warm-up "
                        "call" % QUICK_ITERS)
    p.add_argument("--iters", type=positive_int,
                   help="calls per timed batch (default %d, --quick %d); %d batches, median"
                        % (ITERS, QUICK_ITERS, BATCHES))
    p.add_argument("--only", choices=list(dtlib.KINDS),
                   help="one kernel: wmse (whitened MSE), at (attention transfer) or ce "
                        "(soft-target cross entropy)")
    p.add_argument("--no-compile", action="store_true",
                   help="skip torch.compile (it compiles every case anew, which takes most of the "
                        "run's time)")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------------------------

def case_list(quick, only):
    cases = []
    for kind in dtlib.KINDS:
        if only is not None and kind != only:
            continue
        shapes = [(s, "jmh") for s in JMH_SHAPES[kind]]
        if not quick:
            shapes += [(s, "large") for s in LARGE_SHAPES[kind]]
        for shape, origin in shapes:
            if kind == "wmse":
                variants = [{"mode": m, "eps": 1e-5} for m in (0, 1)]
            elif kind == "at":
                variants = [{"p": p, "dist": AT_SQUARED, "eps": 1e-12} for p in (2.0, 3.0)]
            else:
                variants = [{"tau": tau} for tau in (1.0, 4.0)]
            for params in variants:
                cases.append({"kernel": kind, "shapes": origin, "shape": list(shape), "params": params})
    return cases


def params_text(kind, params):
    if kind == "wmse":
        return "per_sample" if params["mode"] == WHITEN_PER_SAMPLE else "per_pixel"
    if kind == "at":
        return "p=%g %s" % (params["p"], "squared" if params["dist"] == AT_SQUARED else "norm")
    return "tau=%g" % params["tau"]


def tensor_shapes(kind, shape):
    """(student shape, teacher shape)."""
    if kind == "at":
        n, cs, ct, h, w = shape
        return (n, cs, h, w), (n, ct, h, w)
    return tuple(shape), tuple(shape)


def bytes_moved(kind, shape):
    """The least DRAM traffic of a kernel call: student and teacher read once, gradient written once."""
    s, t = tensor_shapes(kind, shape)
    return 4 * (2 * numel(s) + numel(t))


def numel(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def torch_formula(torch, kind, params):
    """The loss as a PyTorch user writes it, f(student, teacher) -> scalar."""
    F = torch.nn.functional
    if kind == "wmse":
        eps = params["eps"]
        if params["mode"] == WHITEN_PER_SAMPLE:
            def f(s, t):
                return F.mse_loss(s, F.layer_norm(t, t.shape[1:], eps=eps))
        else:
            def f(s, t):
                w = F.layer_norm(t.permute(0, 2, 3, 1), (t.shape[1],), eps=eps).permute(0, 3, 1, 2)
                return F.mse_loss(s, w)
    elif kind == "at":
        p, eps, dist = params["p"], params["eps"], params["dist"]

        def f(s, t):
            qs = F.normalize(s.abs().pow(p).sum(1).flatten(1), dim=1, eps=eps)
            qt = F.normalize(t.abs().pow(p).sum(1).flatten(1), dim=1, eps=eps)
            if dist == AT_SQUARED:
                return (qs - qt).pow(2).mean()
            return torch.linalg.vector_norm(qs - qt, dim=1).mean()
    else:
        tau = params["tau"]

        def f(s, t):
            return -(F.softmax(t / tau, dim=1) * F.log_softmax(s / tau, dim=1)).sum(1).mean()
    return f


# ------------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------------

class KernelFailure(Exception):
    """The kernel returned an error or disagrees with PyTorch: the run fails."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def short(e, limit=300):
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    text = "%s: %s" % (type(e).__name__, lines[0] if lines else "")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def is_oom(torch, e):
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(e, oom)) or "out of memory" in str(e)


def timed(torch, fn, iters, warmup):
    """Microseconds per call of fn: median of BATCHES batches of `iters` back-to-back calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    per_call = []
    for _ in range(BATCHES):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        per_call.append(start.elapsed_time(end) * 1e3 / iters)
    return {"median_us": statistics.median(per_call), "min_us": min(per_call),
            "max_us": max(per_call), "batches_us": per_call}


def rel_err(torch, x, ref):
    """|x - ref| / |ref| for scalars; max|x - ref| / max|ref| for tensors."""
    if isinstance(ref, float):
        return abs(x - ref) / abs(ref) if ref != 0 else abs(x)
    scale = ref.abs().max().item()
    err = (x - ref).abs().max().item()
    return err / scale if scale > 0 else err


def measure_compile(torch, f, sr, t, ref_loss, iters, warmup):
    if not hasattr(torch, "compile"):
        return {"status": "unavailable",
                "reason": "torch %s has no torch.compile (needs >= 2.0)" % torch.__version__}
    try:
        import torch._dynamo
        torch._dynamo.reset()  # a fresh compilation per case, no recompile limits
        compiled = torch.compile(f, dynamic=False, fullgraph=True)
    except Exception as e:  # noqa: BLE001 - report it and go on
        return {"status": "unavailable", "reason": short(e)}

    def step():
        loss = compiled(sr, t)
        return loss, torch.autograd.grad(loss, sr)[0]
    try:
        begin = time.perf_counter()
        loss, _ = step()
        torch.cuda.synchronize()
        compile_s = time.perf_counter() - begin
        check = rel_err(torch, loss.item(), ref_loss)
        del loss
        result = timed(torch, step, iters, warmup)
    except Exception as e:  # noqa: BLE001 - report it and go on
        return {"status": "failed", "reason": short(e)}
    result.update(status="ok", compile_s=compile_s, loss_rel_err=check)
    return result


def measure(torch, lib, case, iters, warmup, with_compile):
    """Fills case with the measurements; raises KernelFailure (or an out-of-memory error)."""
    kind, params = case["kernel"], case["params"]
    s_shape, t_shape = tensor_shapes(kind, case["shape"])
    scale = 3.0 if kind == "ce" else 1.0
    s = torch.randn(s_shape, device=DEVICE) * scale
    t = torch.randn(t_shape, device=DEVICE) * scale
    loss = torch.empty(1, device=DEVICE)
    grad = torch.empty_like(s)
    call = dtlib.bind(lib, kind, s, t, params, 1.0, loss, grad, dtlib.current_stream(torch))
    status = call()
    if status != dtlib.DT_OK:
        raise KernelFailure("dt_cuda call returned status %d: %s" % (status, dtlib.last_error(lib)))
    torch.cuda.synchronize()

    f = torch_formula(torch, kind, params)
    sr = s.detach().requires_grad_(True)

    def eager():
        value = f(sr, t)
        return value, torch.autograd.grad(value, sr)[0]
    ref_loss, ref_grad = eager()
    ref_loss = ref_loss.item()
    check = {"loss": loss.item(), "loss_eager": ref_loss,
             "loss_rel_err": rel_err(torch, loss.item(), ref_loss),
             "grad_rel_err": rel_err(torch, grad, ref_grad)}
    del ref_grad
    check["ok"] = bool(check["loss_rel_err"] <= CHECK_TOL and check["grad_rel_err"] <= CHECK_TOL)
    case["check"] = check
    if not check["ok"]:
        raise KernelFailure("disagrees with PyTorch eager: loss %.7g vs %.7g, gradient error %.2e "
                            "of max|grad|" % (check["loss"], ref_loss, check["grad_rel_err"]))

    case["ours"] = timed(torch, call, iters, warmup)
    case["eager"] = timed(torch, eager, iters, warmup)
    if with_compile:
        case["compile"] = measure_compile(torch, f, sr, t, ref_loss, iters, warmup)
    else:
        case["compile"] = {"status": "skipped", "reason": "--no-compile"}
    del s, t, sr, loss, grad, call, eager, f
    gc.collect()

    floats = max(1, case["bytes_moved"] // 8)  # read floats*4 bytes, write floats*4 bytes
    src = torch.empty(floats, device=DEVICE)
    dst = torch.empty_like(src)
    case["copy"] = timed(torch, lambda: dst.copy_(src), iters, warmup)
    case["copy"]["bytes_moved"] = 8 * floats
    del src, dst

    ours_s = case["ours"]["median_us"] * 1e-6
    case["gbps"] = case["bytes_moved"] / ours_s / 1e9
    case["copy"]["gbps"] = case["copy"]["bytes_moved"] / (case["copy"]["median_us"] * 1e-6) / 1e9
    case["pct_of_copy"] = 100.0 * case["gbps"] / case["copy"]["gbps"]
    case["speedup_vs_eager"] = case["eager"]["median_us"] / case["ours"]["median_us"]
    if case["compile"]["status"] == "ok":
        case["speedup_vs_compile"] = case["compile"]["median_us"] / case["ours"]["median_us"]


# ------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------

def sanitise(name):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "gpu"


def default_out(gpu, args):
    name = "%s-%s%s%s.json" % (datetime.date.today().isoformat(), sanitise(gpu),
                               "-quick" if args.quick else "",
                               "-" + args.only if args.only else "")
    return os.path.join(HERE, "results", name)


def command_output(cmd):
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, timeout=20, check=True).stdout.strip()
        return out or None
    except Exception:  # noqa: BLE001 - optional information
        return None


def script_name():
    """This script as run, relative to the repository root when it is inside it."""
    path = os.path.abspath(sys.argv[0] or __file__)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def write_json(path, doc):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)


def us(value):
    if value < 10:
        return "%.2f" % value
    if value < 1000:
        return "%.1f" % value
    return "%.0f" % value


def markdown(doc):
    lines = ["## dt_cuda_* kernels vs PyTorch on %s" % doc["gpu"], "",
             "torch %s (CUDA %s), dreamteacher %s, %s. Forward + student gradient; median of %d "
             "batches of %d back-to-back calls (CUDA events); GB/s and %% of copy: the kernel's "
             "least traffic (inputs read + gradient written) over its time, against a "
             "device-to-device copy moving the same bytes."
             % (doc["torch"], doc["cuda"], doc["dt_version"], doc["date"],
                doc["settings"]["batches"], doc["settings"]["iters"]), "",
             "| kernel | shape | params | ours µs | eager µs | compile µs | vs eager | vs compile "
             "| GB/s | % of copy |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    notes = []
    for r in doc["results"]:
        head = "| %s | %s | %s " % (NAMES[r["kernel"]], "x".join(map(str, r["shape"])),
                                    params_text(r["kernel"], r["params"]))
        if "ours" not in r or "copy" not in r:
            lines.append(head + "| %s | | | | | | |" % ("**error**" if "error" in r else "skipped"))
            notes.append("%s %s %s: %s" % (NAMES[r["kernel"]], "x".join(map(str, r["shape"])),
                                           params_text(r["kernel"], r["params"]),
                                           r.get("error") or r.get("skipped")))
            continue
        comp = r["compile"]
        if comp["status"] == "ok":
            comp_cell, vs_comp = us(comp["median_us"]), "%.2fx" % r["speedup_vs_compile"]
        else:
            comp_cell, vs_comp = comp["status"], "—"
            note = "torch.compile %s: %s" % (comp["status"], comp["reason"])
            if note not in notes:
                notes.append(note)
        lines.append(head + "| %s | %s | %s | %.2fx | %s | %s | %.0f%% |" % (
            us(r["ours"]["median_us"]), us(r["eager"]["median_us"]), comp_cell,
            r["speedup_vs_eager"], vs_comp, ("%.0f" if r["gbps"] >= 100 else "%.1f") % r["gbps"],
            r["pct_of_copy"]))
    lines += ["", "Shapes: %s." % "; ".join("%s %s" % (NAMES[k], SHAPE_LEGEND[k]) for k in dtlib.KINDS)]
    if notes:
        lines += [""] + ["- " + n for n in notes]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch, reason = dtlib.import_torch_cuda()  # here, so that --help works without PyTorch
    if torch is None:
        print("SKIP: %s; nothing timed" % reason)
        return SKIP
    if not os.path.exists(args.lib):
        print("FAIL: library %s not found (build it with benchmarks/gpu/run.sh or set DT_LIB)"
              % args.lib)
        return 1
    lib = dtlib.load_library(args.lib)
    if lib.dt_cuda_available() != 1:
        print("FAIL: dt_cuda_available() is 0 for %s: %s" % (args.lib, dtlib.last_error(lib)))
        return 1

    iters = args.iters or (QUICK_ITERS if args.quick else ITERS)
    warmup = 1 if args.quick else WARMUP
    gpu = torch.cuda.get_device_name()
    out = args.out or default_out(gpu, args)
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    nvcc = command_output(["nvcc", "--version"])
    doc = {
        "gpu": gpu,
        "gpu_properties": {"total_memory_bytes": props.total_memory,
                           "multiprocessors": props.multi_processor_count,
                           "compute_capability": "%d.%d" % (props.major, props.minor)},
        "driver": command_output(["nvidia-smi", "--query-gpu=driver_version",
                                  "--format=csv,noheader", "--id=%d" % torch.cuda.current_device()]),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "nvcc": nvcc.splitlines()[-1] if nvcc else None,
        "library": os.path.abspath(args.lib),
        "dt_version": dtlib.version(lib),
        "git_commit": command_output(["git", "-C", ROOT, "rev-parse", "HEAD"]),
        "command": " ".join(shlex.quote(a) for a in [script_name()] + list(argv)),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings": {"batches": BATCHES, "iters": iters, "warmup": warmup, "quick": args.quick,
                     "only": args.only, "compile": not args.no_compile, "seed": SEED,
                     "check_tolerance": CHECK_TOL, "statistic": "median of batches, µs per call"},
        "complete": False,
        "results": [],
    }
    log("GPU %s, torch %s (CUDA %s), library %s (dt_version %s); writing %s"
        % (gpu, doc["torch"], doc["cuda"], args.lib, doc["dt_version"], out))

    torch.manual_seed(SEED)
    cases = case_list(args.quick, args.only)
    failures = 0
    for i, case in enumerate(cases, 1):
        kind = case["kernel"]
        case["bytes_moved"] = bytes_moved(kind, case["shape"])
        label = "%s %s %s" % (kind, "x".join(map(str, case["shape"])), params_text(kind, case["params"]))
        begin = time.perf_counter()
        try:
            measure(torch, lib, case, iters, warmup, not args.no_compile)
        except KernelFailure as e:
            case["error"] = str(e)
            failures += 1
        except Exception as e:  # noqa: BLE001 - recorded, and the run goes on
            if is_oom(torch, e):
                case["skipped"] = "out of memory: " + short(e)
            else:
                traceback.print_exc()
                case["error"] = short(e)
                failures += 1
        gc.collect()
        torch.cuda.empty_cache()
        doc["results"].append(case)
        write_json(out, doc)
        if "ours" in case and "copy" in case:
            comp = case["compile"]
            log("[%d/%d] %s: ours %s us, eager %s us, compile %s, copy %s us (%.0f%% of copy), %.1f s"
                % (i, len(cases), label, us(case["ours"]["median_us"]), us(case["eager"]["median_us"]),
                   us(comp["median_us"]) + " us" if comp["status"] == "ok" else comp["status"],
                   us(case["copy"]["median_us"]), case["pct_of_copy"], time.perf_counter() - begin))
        else:
            log("[%d/%d] %s: %s" % (i, len(cases), label, case.get("error") or case.get("skipped")))

    doc["complete"] = True
    write_json(out, doc)
    print(markdown(doc))
    log("results written to %s" % out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
