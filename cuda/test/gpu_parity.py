#!/usr/bin/env python3
"""Parity checks of the dt_cuda_* kernels of libdreamteacher.so against PyTorch (float64).

For every case: the loss and the student gradient of the CUDA kernel (float32 tensors on the GPU,
enqueued on torch's current stream) are compared with a float64 reference made of torch composite
ops and autograd (loss relative error <= 1e-5, gradient max-abs error <= 1e-5 * max|grad|), the call
is repeated and must give bit-identical results, and the library's CPU kernel (dt_*_f32 on host
copies) must agree with the CUDA one (2e-5 on the loss and relative to max|grad|). Absolute floors
(LOSS_ATOL, GRAD_ATOL) apply only where the exact value is ~0 and float64 itself is not exact. Then bad arguments must be rejected (status 1, a message
naming the argument, outputs untouched). Timings are benchmarks/gpu/bench_gpu.py's job.

Exit status: 0 all checks passed, 1 a check failed, 77 skipped (no PyTorch or no CUDA device).
Only the standard library (and dtlib.py, the ctypes binding of the C ABI in this folder, which uses
nothing else) is imported before the arguments are parsed, so --help works anywhere.
"""
import argparse
import math
import os
import struct
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
import dtlib  # noqa: E402
from dtlib import (SKIP, WHITEN_PER_SAMPLE, WHITEN_PER_PIXEL, AT_SQUARED, AT_NORM,  # noqa: E402,F401
                   f32, load_library)

LOSS_RTOL = 1e-5
GRAD_RTOL = 1e-5
# A reference loss below this is compared in absolute terms (the float64 reference itself is only
# accurate to ~1e-16 absolute, e.g. for the soft-target CE of nearly one-hot distributions).
LOSS_ATOL = 1e-12
# Likewise for gradients whose exact value is 0 (teacher == student): the float64 reference is then
# ~1e-17 rather than 0. Far below any gradient the other cases produce (>= 1e-8 here).
GRAD_ATOL = 1e-15


def parse_args(argv):
    default_lib = dtlib.default_library_path()
    p = argparse.ArgumentParser(
        description="Check the dt_cuda_* kernels of libdreamteacher.so against PyTorch float64 "
                    "references (needs PyTorch and a CUDA device; exits 77 when either is missing).")
    p.add_argument("--lib", default=default_lib,
                   help="path of libdreamteacher.so (default: $DT_LIB or build-gpu/libdreamteacher.so)")
    p.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    p.add_argument("--quick", action="store_true",
                   help="small shapes only (e.g. for runs under compute-sanitizer)")
    p.add_argument("--only", choices=["wmse", "at", "ce"], help="run one kernel's cases only")
    p.add_argument("--no-cpu", action="store_true", help="skip the CPU-vs-CUDA comparisons")
    return p.parse_args(argv)


class Checker:
    def __init__(self, torch, lib, args):
        self.torch = torch
        self.F = torch.nn.functional
        self.lib = lib
        self.args = args
        self.failures = []
        self.count = 0
        self.dev = torch.device("cuda")
        self.gen = torch.Generator(device="cpu").manual_seed(args.seed)

    # -------------------------------------------------------------------------------------- utils
    def ptr(self, t):
        return dtlib.ptr(t)

    def stream(self):
        return dtlib.current_stream(self.torch)

    def randn(self, shape, scale=1.0, offset=0.0):
        return (self.torch.randn(*shape, generator=self.gen, dtype=self.torch.float32) * scale + offset)

    def to_device(self, x, misalign=False):
        """A contiguous float32 copy on the GPU; misalign: 4 bytes past a 16-byte boundary."""
        if not misalign:
            return x.to(self.dev).contiguous()
        buf = self.torch.empty(x.numel() + 1, dtype=self.torch.float32, device=self.dev)
        view = buf[1:].view(x.shape)
        view.copy_(x.to(self.dev))
        return view

    def report(self, name, ok, detail):
        self.count += 1
        print(("ok    " if ok else "FAIL  ") + name + "  " + detail, flush=True)
        if not ok:
            self.failures.append(name)

    def compare(self, name, loss, grad, ref_loss, ref_grad, extra=""):
        torch = self.torch
        lerr = abs(loss - ref_loss)
        lrel = lerr / abs(ref_loss) if ref_loss != 0 else (0.0 if lerr == 0 else math.inf)
        ok = math.isfinite(loss) and (lrel <= LOSS_RTOL or lerr <= LOSS_ATOL)
        detail = "loss %.9g ref %.9g rel %.2e" % (loss, ref_loss, lrel)
        if grad is not None:
            g = grad.double().cpu()
            gmax = ref_grad.abs().max().item()
            gerr = (g - ref_grad).abs().max().item()
            gok = torch.isfinite(g).all().item() and gerr <= GRAD_RTOL * gmax + GRAD_ATOL
            ok = ok and gok
            detail += "  grad err/max %.2e (max %.3g)" % (gerr / gmax if gmax > 0 else gerr, gmax)
        self.report(name, ok, detail + extra)

    # ----------------------------------------------------------------------------- kernel calls
    def run_cuda(self, kind, s, t, params, with_grad):
        """One dt_cuda_* call on device tensors; returns (status, loss, grad, message)."""
        torch = self.torch
        loss = torch.full((1,), 12345.0, dtype=torch.float32, device=self.dev)
        grad = torch.full_like(s, 777.0) if with_grad else None
        st = dtlib.bind(self.lib, kind, s, t, params, params["gs"], loss, grad, self.stream())()
        msg = dtlib.last_error(self.lib)
        torch.cuda.synchronize()
        return st, loss.item(), grad, msg

    def run_cpu(self, kind, s, t, params, with_grad):
        torch = self.torch
        s, t = s.cpu().contiguous(), t.cpu().contiguous()
        loss = torch.full((1,), 12345.0, dtype=torch.float32)
        grad = torch.full_like(s, 777.0) if with_grad else None
        st = dtlib.bind(self.lib, kind, s, t, params, params["gs"], loss, grad, cuda=False)()
        return st, loss.item(), grad, dtlib.last_error(self.lib)

    # ------------------------------------------------------------------------------- references
    def reference(self, kind, s, t, params):
        """float64 loss and grad_scale * dL/ds with torch composite ops and autograd."""
        torch, F = self.torch, self.F
        sd = s.detach().to(self.dev, torch.float64).requires_grad_(True)
        td = t.detach().to(self.dev, torch.float64)
        if kind == "wmse":
            eps = f32(params["eps"])
            if params["mode"] == WHITEN_PER_SAMPLE:
                w = F.layer_norm(td, td.shape[1:], eps=eps)
            else:
                w = F.layer_norm(td.permute(0, 2, 3, 1), (td.shape[1],), eps=eps).permute(0, 3, 1, 2)
            loss = ((sd - w) ** 2).mean()
        elif kind == "at":
            p, eps = f32(params["p"]), f32(params["eps"])
            a_s = sd.abs().pow(p).sum(1).flatten(1)
            a_t = td.abs().pow(p).sum(1).flatten(1)
            qs = F.normalize(a_s, dim=1, eps=eps)
            qt = F.normalize(a_t, dim=1, eps=eps)
            if params["dist"] == AT_SQUARED:
                loss = ((qs - qt) ** 2).mean()
            else:
                loss = torch.linalg.vector_norm(qs - qt, dim=1).mean()
        else:
            tau = f32(params["tau"])
            logp = F.log_softmax(sd / tau, dim=1)
            pt = F.softmax(td / tau, dim=1)
            loss = -(pt * logp).sum(1).mean()
        loss.backward()
        return loss.item(), (sd.grad * f32(params["gs"])).cpu()

    # ------------------------------------------------------------------------------------- cases
    def check_case(self, kind, name, s, t, params, with_grad=True, misalign=False):
        sg, tg = self.to_device(s, misalign), self.to_device(t, misalign)
        st, loss, grad, msg = self.run_cuda(kind, sg, tg, params, with_grad)
        if st != 0:
            self.report(name, False, "status %d: %s" % (st, msg))
            return
        ref_loss, ref_grad = self.reference(kind, s, t, params)
        self.compare(name, loss, grad, ref_loss, ref_grad if with_grad else None)
        # Determinism: a second call must give the same bits.
        st2, loss2, grad2, msg2 = self.run_cuda(kind, sg, tg, params, with_grad)
        same = st2 == 0 and struct.pack("f", loss) == struct.pack("f", loss2)
        if with_grad and same:
            same = self.torch.equal(grad.view(self.torch.int32), grad2.view(self.torch.int32))
        if not same:
            self.report(name + " [determinism]", False, "second call differs (status %d %s)" % (st2, msg2))
        # CPU kernel of the same library on host copies.
        if not self.args.no_cpu and s.numel() <= (1 << 22):
            cst, closs, cgrad, cmsg = self.run_cpu(kind, s, t, params, with_grad)
            if cst != 0:
                self.report(name + " [cpu]", False, "status %d: %s" % (cst, cmsg))
                return
            lrel = abs(closs - loss) / max(abs(closs), 1e-30)
            ok = lrel <= 2 * LOSS_RTOL or abs(closs - loss) <= LOSS_ATOL
            if with_grad:
                gmax = cgrad.abs().max().item()
                gerr = (cgrad - grad.cpu()).abs().max().item()
                ok = ok and gerr <= 2 * GRAD_RTOL * gmax + GRAD_ATOL
            if not ok:
                self.report(name + " [cpu vs cuda]", False, "cpu loss %.9g cuda %.9g" % (closs, loss))

    def wmse_cases(self):
        quick = self.args.quick
        shapes = [(1, 1, 1, 1), (2, 3, 4, 5), (5, 1, 1, 1), (3, 7, 11, 13), (1, 3, 101, 131),
                  (4, 64, 16, 16), (2, 17, 1, 1), (1, 1, 37, 41), (2, 2000, 4, 4)]
        if not quick:
            shapes += [(64, 256, 16, 16), (1, 16, 512, 512), (8, 512, 8, 8), (3, 1100, 5, 3),
                       (1, 1, 4096, 4096)]
        cases = []
        for shape in shapes:
            for mode in (WHITEN_PER_SAMPLE, WHITEN_PER_PIXEL):
                cases.append((shape, mode, "random", True, False))
        for mode in (WHITEN_PER_SAMPLE, WHITEN_PER_PIXEL):
            cases += [((2, 8, 33, 33), mode, "magnitude", True, False),
                      ((2, 8, 33, 33), mode, "constant", True, False),
                      ((3, 5, 20, 20), mode, "random", False, False),
                      ((2, 4, 64, 40), mode, "random", True, True),
                      ((1, 1, 1, 1), mode, "constant", True, False)]
        for shape, mode, kind, with_grad, misalign in cases:
            s = self.randn(shape)
            if kind == "magnitude":
                t = self.randn(shape, 0.01, 1e4)
            elif kind == "constant":
                t = self.torch.full(shape, 3.25)
            else:
                t = self.randn(shape, 2.0, 0.5)
            params = {"mode": mode, "eps": 1e-5, "gs": 0.75}
            name = "wmse %-16s %-10s %-9s%s%s" % ("x".join(map(str, shape)),
                                                  "per_sample" if mode == 0 else "per_pixel", kind,
                                                  "" if with_grad else " fwd-only",
                                                  " misaligned" if misalign else "")
            self.check_case("wmse", name, s, t, params, with_grad, misalign)

    def at_cases(self):
        quick = self.args.quick
        shapes = [(1, 1, 1, 1, 1), (2, 3, 5, 4, 4), (3, 7, 2, 5, 7), (2, 4, 6, 3, 5),
                  (1, 600, 3, 2, 3), (1, 5, 4, 50, 100), (4, 16, 32, 13, 11)]
        if not quick:
            shapes += [(64, 256, 512, 16, 16), (8, 64, 64, 64, 64), (1, 3, 3, 1024, 1024)]
        cases = []
        for (n, cs, ct, h, w) in shapes:
            for p in (1.0, 2.0, 3.5):
                cases.append(((n, cs, ct, h, w), p, AT_SQUARED if p != 3.5 else AT_NORM, "random", True))
            cases.append(((n, cs, ct, h, w), 2.0, AT_NORM, "random", True))
        for dist in (AT_SQUARED, AT_NORM):
            cases += [((2, 4, 4, 4, 4), 2.0, dist, "zero-student", True),
                      ((2, 4, 4, 4, 4), 2.0, dist, "zero-both", True),
                      ((2, 4, 4, 4, 4), 2.0, dist, "equal", True),
                      ((2, 6, 5, 3, 3), 3.5, dist, "magnitude", True),
                      ((2, 3, 3, 3, 3), 2.0, dist, "tiny", True),
                      ((3, 5, 6, 7, 3), 2.0, dist, "random", False)]
        for (n, cs, ct, h, w), p, dist, kind, with_grad in cases:
            s = self.randn((n, cs, h, w))
            t = self.randn((n, ct, h, w))
            if kind in ("zero-student", "zero-both"):
                s.zero_()
            if kind == "zero-both":
                t.zero_()
            if kind == "equal":
                t = s.clone()
            if kind == "magnitude":
                s, t = s * 1e4, t * 1e4
            if kind == "tiny":  # ||A_s|| < eps: the g/eps branch
                s = s * 1e-8
            params = {"p": p, "dist": dist, "eps": 1e-12, "gs": 1.3}
            name = "at   n%d cs%d ct%d %dx%d p=%g %-7s %-12s%s" % (
                n, cs, ct, h, w, p, "squared" if dist == 0 else "norm", kind,
                "" if with_grad else " fwd-only")
            self.check_case("at", name, s, t, params, with_grad)

    def ce_cases(self):
        quick = self.args.quick
        shapes = [(4, 1, 1), (3, 1, 7), (16, 10, 1), (2, 40, 1), (3, 200, 1), (3, 300, 1),
                  (2, 1000, 1), (2, 1500, 1), (2, 40, 17), (2, 100, 50), (1, 3, 4096), (2, 11, 64)]
        if not quick:
            shapes += [(16384, 10, 1), (16, 21, 4096), (512, 1000, 1), (4, 1000, 4096 + 7)]
        cases = []
        for shape in shapes:
            for tau in (0.5, 1.0, 4.0):
                cases.append((shape, tau, 3.0, "random", True))
        cases += [((5, 10, 1), 0.5, 1e4, "random", True), ((2, 1000, 1), 0.5, 1e4, "random", True),
                  ((2, 11, 64), 0.5, 1e4, "random", True), ((2, 5, 9), 1.0, 30.0, "equal", True),
                  ((2, 64, 1), 1.0, 1.0, "sorted", True), ((1, 64, 3), 1.0, 1.0, "sorted", True),
                  ((2, 7, 33), 1.0, 3.0, "random", False), ((3, 300, 1), 2.0, 3.0, "random", False),
                  ((3, 33, 1), 1.7, 2.0, "random", True)]
        for shape, tau, scale, kind, with_grad in cases:
            s = self.randn(shape, scale)
            t = self.randn(shape, scale)
            if kind == "equal":
                t = s.clone()
            if kind == "sorted":  # the row maximum moves at every k
                ramp = self.torch.arange(shape[1], dtype=self.torch.float32).view(1, -1, 1)
                s = (0.1 * ramp).expand(shape).contiguous()
                t = (0.05 * ramp).expand(shape).contiguous()
            params = {"tau": tau, "gs": 0.9}
            name = "ce   %-14s tau=%-4g scale=%-6g %-7s%s" % ("x".join(map(str, shape)), tau, scale,
                                                             kind, "" if with_grad else " fwd-only")
            self.check_case("ce", name, s, t, params, with_grad)

    # ------------------------------------------------------------------------------ bad arguments
    def bad_argument_cases(self):
        torch = self.torch
        s = self.randn((2, 3, 4, 5)).to(self.dev)
        t = self.randn((2, 3, 4, 5)).to(self.dev)
        logits = self.randn((2, 5, 3)).to(self.dev)
        lib = self.lib

        def expect(name, word, call):
            loss = torch.full((1,), 12345.0, device=self.dev)
            grad = torch.full((2 * 3 * 4 * 5,), 777.0, device=self.dev)
            st = call(self.ptr(loss), self.ptr(grad))
            msg = lib.dt_last_error().decode(errors="replace")
            torch.cuda.synchronize()
            untouched = loss.item() == 12345.0 and bool((grad == 777.0).all().item())
            ok = st == 1 and word in msg and untouched
            self.report("bad-arg " + name, ok, "status %d, message %r%s" % (
                st, msg, "" if untouched else ", OUTPUTS WRITTEN"))

        S, T, L = self.ptr(s), self.ptr(t), self.ptr(logits)
        st = self.stream()
        expect("wmse eps=-1", "'eps'", lambda lo, g: lib.dt_cuda_whitened_mse_f32(
            S, T, 2, 3, 4, 5, 0, -1.0, 1.0, lo, g, st))
        expect("wmse eps=nan", "'eps'", lambda lo, g: lib.dt_cuda_whitened_mse_f32(
            S, T, 2, 3, 4, 5, 0, float("nan"), 1.0, lo, g, st))
        expect("wmse n=0", "'n'", lambda lo, g: lib.dt_cuda_whitened_mse_f32(
            S, T, 0, 3, 4, 5, 0, 1e-5, 1.0, lo, g, st))
        expect("wmse w=-3", "'w'", lambda lo, g: lib.dt_cuda_whitened_mse_f32(
            S, T, 2, 3, 4, -3, 0, 1e-5, 1.0, lo, g, st))
        expect("wmse student=NULL", "'student'", lambda lo, g: lib.dt_cuda_whitened_mse_f32(
            None, T, 2, 3, 4, 5, 0, 1e-5, 1.0, lo, g, st))
        expect("wmse mode=7", "'mode'", lambda lo, g: lib.dt_cuda_whitened_mse_f32(
            S, T, 2, 3, 4, 5, 7, 1e-5, 1.0, lo, g, st))
        expect("wmse overflow", "overflow", lambda lo, g: lib.dt_cuda_whitened_mse_f32(
            S, T, 1 << 40, 1 << 20, 4, 5, 0, 1e-5, 1.0, lo, g, st))
        expect("at pool_p=0", "'pool_p'", lambda lo, g: lib.dt_cuda_attention_transfer_f32(
            S, 3, T, 3, 2, 4, 5, 0.0, 0, 1e-12, 1.0, lo, g, st))
        expect("at distance=5", "'distance'", lambda lo, g: lib.dt_cuda_attention_transfer_f32(
            S, 3, T, 3, 2, 4, 5, 2.0, 5, 1e-12, 1.0, lo, g, st))
        expect("at cs=0", "'cs'", lambda lo, g: lib.dt_cuda_attention_transfer_f32(
            S, 0, T, 3, 2, 4, 5, 2.0, 0, 1e-12, 1.0, lo, g, st))
        expect("at teacher=NULL", "'teacher'", lambda lo, g: lib.dt_cuda_attention_transfer_f32(
            S, 3, None, 3, 2, 4, 5, 2.0, 0, 1e-12, 1.0, lo, g, st))
        expect("at eps=inf", "'eps'", lambda lo, g: lib.dt_cuda_attention_transfer_f32(
            S, 3, T, 3, 2, 4, 5, 2.0, 0, float("inf"), 1.0, lo, g, st))
        expect("ce temperature=nan", "'temperature'", lambda lo, g: lib.dt_cuda_soft_target_ce_f32(
            L, L, 2, 5, 3, float("nan"), 1.0, lo, g, st))
        expect("ce temperature=0", "'temperature'", lambda lo, g: lib.dt_cuda_soft_target_ce_f32(
            L, L, 2, 5, 3, 0.0, 1.0, lo, g, st))
        expect("ce k=-1", "'k'", lambda lo, g: lib.dt_cuda_soft_target_ce_f32(
            L, L, 2, -1, 3, 1.0, 1.0, lo, g, st))
        expect("ce positions=0", "'positions'", lambda lo, g: lib.dt_cuda_soft_target_ce_f32(
            L, L, 2, 5, 0, 1.0, 1.0, lo, g, st))
        expect("ce loss=NULL", "'loss'", lambda lo, g: lib.dt_cuda_soft_target_ce_f32(
            L, L, 2, 5, 3, 1.0, 1.0, None, g, st))
        expect("ce grad_scale=inf", "'grad_scale'", lambda lo, g: lib.dt_cuda_soft_target_ce_f32(
            L, L, 2, 5, 3, 1.0, float("inf"), lo, g, st))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch, reason = dtlib.import_torch_cuda()  # here, so that --help works without PyTorch
    if torch is None:
        print("SKIP: %s; nothing checked" % reason)
        return SKIP
    if not os.path.exists(args.lib):
        print("FAIL: library %s not found (build it with cuda/test/run_gpu_checks.sh or set DT_LIB)" % args.lib)
        return 1
    lib = load_library(args.lib)
    print("library %s, dt_version %s" % (args.lib, lib.dt_version().decode()))
    print("device %s, torch %s (CUDA %s)" % (torch.cuda.get_device_name(), torch.__version__,
                                             torch.version.cuda))
    if lib.dt_cuda_available() != 1:
        print("FAIL: dt_cuda_available() is 0: %s" % lib.dt_last_error().decode(errors="replace"))
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    checker = Checker(torch, lib, args)
    start = time.time()
    if args.only in (None, "wmse"):
        checker.wmse_cases()
    if args.only in (None, "at"):
        checker.at_cases()
    if args.only in (None, "ce"):
        checker.ce_cases()
    if args.only is None:
        checker.bad_argument_cases()
    print("summary: %d checks, %d failed (%.1f s)" % (checker.count, len(checker.failures),
                                                     time.time() - start))
    for name in checker.failures:
        print("  failed: " + name)
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
