#!/usr/bin/env python3
"""Turns a JMH JSON result of the benchmarks module into the Markdown table of results/LATEST.md.

For every kernel benchmark (same class and parameters): our fused kernel (raw-address API), the libtorch
composite chain, the speedup, our effective bandwidth (bytes the kernel must move / time) and its share of
the STREAM triad measured over the same number of bytes in the same run. Then the JNI overhead and the
allocation rates from JMH's gc profiler.
"""
import argparse
import json
import sys
from collections import defaultdict

# The targets of the benchmark suite: fused forward+gradient vs the libtorch chain, share of the triad
# bandwidth at large shapes (at least LARGE_BYTES moved: the arrays then exceed the caches), JNI overhead.
SPEEDUP_TARGET = {"WhitenedMseBenchmark": 3.0, "AttentionTransferBenchmark": 3.0, "SoftTargetCeBenchmark": 2.0}
TRIAD_TARGET = 0.60
LARGE_BYTES = 40e6
JNI_TARGET_NS = 1000.0

KERNEL_CLASSES = {
    "WhitenedMseBenchmark": "whitened MSE",
    "AttentionTransferBenchmark": "attention transfer",
    "SoftTargetCeBenchmark": "soft-target CE",
}


def bytes_moved(cls, params):
    def dims(spec):
        return [int(x) for x in spec.split("x")]

    if cls == "AttentionTransferBenchmark":
        n, cs, ct, h, w = dims(params["shape"])
        return 4 * n * h * w * (2 * cs + ct)
    total = 1
    for d in dims(params["shape"]):
        total *= d
    return 3 * 4 * total


def to_seconds(score, unit):
    scale = {"us/op": 1e-6, "ns/op": 1e-9, "ms/op": 1e-3, "s/op": 1.0}[unit]
    return score * scale


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("json")
    ap.add_argument("--command", default="")
    ap.add_argument("--machine", default="")
    args = ap.parse_args()
    with open(args.json) as f:
        runs = json.load(f)

    groups = defaultdict(dict)  # (class, params) -> method -> run
    for run in runs:
        cls, method = run["benchmark"].rsplit(".", 2)[-2:]
        params = run.get("params", {})
        groups[(cls, tuple(sorted(params.items())))][method] = run

    out = []
    out.append("# Benchmark results\n")
    if args.machine:
        out.append(f"- Machine: {args.machine}")
    if args.command:
        out.append(f"- Command: `{args.command.strip()}`")
    out.append(f"- Raw data: `{args.json.split('/')[-1]}` (JMH {runs[0].get('jmhVersion', '?')}, "
               f"JDK {runs[0].get('jdkVersion', '?')}, {runs[0].get('threads', 1)} benchmark thread, "
               f"forks {runs[0].get('forks', '?')})\n")
    out.append("Times are JMH averages per call (forward + student gradient). *ours*: the cpu backend through the "
               "raw-address API; *libtorch*: the composite chain a libtorch user writes, with autograd. "
               "GB/s = bytes the kernel must move (inputs read once, gradient written once) / time; "
               "*% triad*: of the STREAM-like triad over the same bytes, measured in the same run.\n")
    targets = []  # (statement, met)
    out.append("| kernel | shape | params | ours (µs) | ours, Tensor API (µs) | libtorch (µs) | speedup | GB/s | triad GB/s | % of triad |")
    out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (cls, params), methods in sorted(groups.items()):
        if cls not in KERNEL_CLASSES or "fusedRaw" not in methods:
            continue
        p = dict(params)
        ours = methods["fusedRaw"]["primaryMetric"]
        unit = ours["scoreUnit"]
        t_ours = to_seconds(ours["score"], unit)
        t_tensor = to_seconds(methods["fusedTensor"]["primaryMetric"]["score"], unit) if "fusedTensor" in methods else None
        t_ref = to_seconds(methods["libtorch"]["primaryMetric"]["score"], unit) if "libtorch" in methods else None
        t_triad = to_seconds(methods["streamTriad"]["primaryMetric"]["score"], unit) if "streamTriad" in methods else None
        nbytes = bytes_moved(cls, p)
        gbs = nbytes / t_ours / 1e9
        triad_gbs = nbytes / t_triad / 1e9 if t_triad else None
        extra = ", ".join(f"{k}={v}" for k, v in p.items() if k != "shape")
        label = f"{KERNEL_CLASSES[cls]} {p['shape']} {extra}"
        if t_ref:
            goal = SPEEDUP_TARGET[cls]
            targets.append((f"{label}: {t_ref / t_ours:.1f}x faster than libtorch (target >= {goal:g}x)",
                            t_ref / t_ours >= goal))
        if triad_gbs and nbytes >= LARGE_BYTES:
            share = gbs / triad_gbs
            targets.append((f"{label}: {100 * share:.0f}% of triad bandwidth (target >= {100 * TRIAD_TARGET:.0f}%"
                            f" at shapes moving >= {LARGE_BYTES / 1e6:.0f} MB)", share >= TRIAD_TARGET))
        out.append("| {} | {} | {} | {:.1f} | {} | {} | {} | {:.2f} | {} | {} |".format(
            KERNEL_CLASSES[cls], p["shape"], extra, t_ours * 1e6,
            f"{t_tensor * 1e6:.1f}" if t_tensor else "-",
            f"{t_ref * 1e6:.1f}" if t_ref else "-",
            f"{t_ref / t_ours:.2f}x" if t_ref else "-",
            gbs,
            f"{triad_gbs:.2f}" if triad_gbs else "-",
            f"{100 * gbs / triad_gbs:.0f}%" if triad_gbs else "-"))

    jni = {m: r for (cls, _), ms in groups.items() if cls == "JniOverheadBenchmark" for m, r in ms.items()}
    if jni:
        out.append("\n## JNI overhead\n")
        out.append("| call | ns per call | over a Java call (ns) |")
        out.append("|---|---:|---:|")
        base = jni.get("javaCall", {}).get("primaryMetric", {}).get("score")
        for m in ["javaCall", "nativeTrivialCall", "whitenedMseOneElement", "attentionTransferOneElement",
                  "softTargetCeOneElement"]:
            if m in jni:
                s = jni[m]["primaryMetric"]["score"]
                if m != "javaCall" and base is not None:
                    targets.append((f"JNI {m}: {s - base:.0f} ns over a Java call (target <= {JNI_TARGET_NS:.0f} ns)",
                                    s - base <= JNI_TARGET_NS))
                out.append(f"| {m} | {s:.1f} | {s - base:.1f} |" if base is not None else f"| {m} | {s:.1f} | - |")

    out.append("\n## Targets\n")
    missed = [t for t, ok in targets if not ok]
    out.append(f"{len(targets) - len(missed)} of {len(targets)} CPU targets met in this run. "
               "GPU targets are measured by benchmarks/gpu, not here. Why targets are missed: ANALYSIS.md.\n")
    for statement, ok in targets:
        out.append(f"- {'met' if ok else '**MISSED**'}: {statement}")

    out.append("\n## Allocation (JMH gc profiler, bytes per call)\n")
    out.append("| benchmark | params | B/op |")
    out.append("|---|---|---:|")
    for (cls, params), methods in sorted(groups.items()):
        for m, run in sorted(methods.items()):
            sec = run.get("secondaryMetrics", {}).get("gc.alloc.rate.norm")
            if sec is not None:
                extra = ", ".join(f"{k}={v}" for k, v in params)
                out.append(f"| {cls}.{m} | {extra} | {sec['score']:.0f} |")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
