#!/usr/bin/env bash
# Builds the C ABI library with CUDA (CMake, into build-gpu/, from the repository root) and times the
# dt_cuda_* kernels against PyTorch eager, torch.compile and a device-to-device copy of the same bytes.
#
#   benchmarks/gpu/run.sh [bench_gpu.py options: --quick, --only wmse|at|ce, --iters N, --out FILE,
#                          --no-compile; --help lists them]
#
# DT_LIB=/path/libdreamteacher.so uses that library instead of building one. The Markdown table goes
# to stdout (the build's output and the progress to stderr); the JSON goes to
# benchmarks/gpu/results/<date>-<gpu>.json unless --out says otherwise.
# Exit status: that of bench_gpu.py (0 done, 1 failed, 77 skipped: no PyTorch or no CUDA device).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 1

if [ -z "${DT_LIB:-}" ]; then
    cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release >&2 || exit 1
    cmake --build build-gpu -j >&2 || exit 1
    DT_LIB="$root/build-gpu/libdreamteacher.so"
fi
export DT_LIB

gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)"
echo "GPU (nvidia-smi): ${gpu:-none found (nvidia-smi unavailable or no GPU)}"

exec python3 "$root/benchmarks/gpu/bench_gpu.py" --lib "$DT_LIB" "$@"
