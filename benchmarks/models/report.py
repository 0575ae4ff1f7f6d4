#!/usr/bin/env python3
"""Turns the JMH and PyTorch results of benchmarks/models/run.sh into one JSON and a Markdown table."""
import argparse, json, os, statistics

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--machine", required=True)
p.add_argument("--command", required=True)
p.add_argument("--isa", required=True)
p.add_argument("--json", required=True)
a = p.parse_args()

java = {}
for r in json.load(open(os.path.join(a.dir, "java.json"))):
    raw = [v for fork in r["primaryMetric"]["rawData"] for v in fork]
    java[r["params"]["model"]] = {"median_ms": statistics.median(raw), "times_ms": raw}
torch_default = json.load(open(os.path.join(a.dir, "torch-default.json")))
same_path = os.path.join(a.dir, "torch-same-isa.json")
torch_same = json.load(open(same_path)) if os.path.exists(same_path) else None

target = 1.2
print("# Training step: this library vs PyTorch eager\n")
print(f"- Machine: {a.machine}")
print(f"- Command: `{a.command}`; PyTorch {torch_default['torch']} (Debian python3-torch), {torch_default['threads']} threads")
print(f"- One step = forward + backward + AdamW at batch 64 of 3x32x32; median of 5 steps after 2 warm-up steps.")
print(f"- This library's oneDNN ISA here: {a.isa} (see ConvolutionGuard). Target: at most {target}x PyTorch eager.\n")
cols = "| model | parameters | ours (ms) | PyTorch default (ms) | ratio |"
sep = "|---|---|---|---|---|"
if torch_same:
    cols += f" PyTorch, oneDNN {a.isa} (ms) | ratio |"
    sep += "---|---|"
print(cols)
print(sep)
out = {"machine": a.machine, "command": a.command, "isa": a.isa, "java": java, "torch_default": torch_default,
       "torch_same_isa": torch_same}
for m in ("unet", "resnet18"):
    ours = java[m]["median_ms"]
    d = torch_default[m]["median_ms"]
    row = f"| {m} | {torch_default[m]['parameters']:,} | {ours:.0f} | {d:.0f} | {ours / d:.2f}x |"
    if torch_same:
        s = torch_same[m]["median_ms"]
        row += f" {s:.0f} | {ours / s:.2f}x |"
    print(row)
print()
for m in ("unet", "resnet18"):
    ours = java[m]["median_ms"]
    ref = (torch_same or torch_default)[m]["median_ms"]
    verdict = "met" if ours / ref <= target else "MISSED"
    print(f"- {m}: {ours / ref:.2f}x the comparable PyTorch eager step: target {verdict}.")
json.dump(out, open(a.json, "w"), indent=1)
