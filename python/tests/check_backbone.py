"""Checks an exported backbone against the Java model that exported it.

    python3 check_backbone.py BACKBONE.safetensors EXPECTED.safetensors [EMBED.npy]

EXPECTED holds the input images ``x`` and the Java model's features ``c2``..``c5`` on them (eval mode). The
backbone is loaded with ``dreamteacher_torch.load_backbone`` (strictly) and must give the same four feature maps
within 1e-4 relative to each map's largest magnitude. With EMBED, a ``dreamteacher embed`` output of the same
images (``--level all``), its rows must equal the loaded model's pooled C2..C5 features within the same bound.
Prints one line per comparison and exits with status 1 on any mismatch.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import dreamteacher_torch as dt  # noqa: E402

TOLERANCE = 1e-4


def relative_error(got, want):
    scale = want.abs().max().item()
    return (got - want).abs().max().item() / max(scale, 1e-30)


def main(argv):
    model = dt.load_backbone(argv[1]).eval()
    expected, _ = dt.read_safetensors(argv[2])
    x = expected["x"]
    ok = True
    with torch.no_grad():
        got = dt.features(model, x)
        for name, g in zip(("c2", "c3", "c4", "c5"), got):
            want = expected[name]
            if tuple(g.shape) != tuple(want.shape):
                print(f"{name}: shape {tuple(g.shape)}, Java {tuple(want.shape)}")
                ok = False
                continue
            err = relative_error(g, want)
            print(f"{name}: shape {tuple(g.shape)}, max relative error {err:.2e}")
            ok &= err <= TOLERANCE
        if len(argv) > 3:
            embedded = torch.from_numpy(np.load(argv[3]))
            pooled = dt.pooled_features(model, x, "all")
            if tuple(embedded.shape) != tuple(pooled.shape):
                print(f"embed: shape {tuple(embedded.shape)}, PyTorch {tuple(pooled.shape)}")
                ok = False
            else:
                err = relative_error(pooled, embedded)
                print(f"embed: shape {tuple(embedded.shape)}, max relative error {err:.2e}")
                ok &= err <= TOLERANCE
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
