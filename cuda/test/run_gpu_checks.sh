#!/usr/bin/env bash
# Builds the C ABI library with CMake (from the repository root) and runs the GPU parity checks.
#
#   cuda/test/run_gpu_checks.sh [RESULTS_FILE] [gpu_parity.py options, e.g. --quick]
#
# Timings are benchmarks/gpu/run.sh's job.
# RESULTS_FILE defaults to cuda/test/results/<date>-<gpu>.txt. DT_LIB=/path/libdreamteacher.so uses
# that library instead of building build-gpu/libdreamteacher.so. DT_SANITIZE=1 also runs the quick
# cases under compute-sanitizer (memcheck, racecheck, synccheck) when it is installed.
# Exit status: that of gpu_parity.py (0 passed, 1 failed, 77 skipped: no PyTorch or no CUDA device).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 1

out=""
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    out="$1"
    shift
fi
gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)"
[ -n "$gpu" ] || gpu="no-gpu"
if [ -z "$out" ]; then
    out="cuda/test/results/$(date +%Y-%m-%d)-$(echo "$gpu" | tr -c 'A-Za-z0-9.\n_-' '-').txt"
fi
mkdir -p "$(dirname "$out")"

if [ -z "${DT_LIB:-}" ]; then
    cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release || exit 1
    cmake --build build-gpu -j || exit 1
    DT_LIB="$root/build-gpu/libdreamteacher.so"
fi

{
    echo "# dreamteacher GPU parity checks"
    echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit:  $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
    echo "gpu:     $gpu"
    nvidia-smi --query-gpu=driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | sed 's/^/driver:  /'
    echo "nvcc:    $(nvcc --version 2>/dev/null | tail -n 1)"
    echo "library: $DT_LIB"
    echo "command: cuda/test/gpu_parity.py --lib $DT_LIB $*"
} | tee "$out"

python3 cuda/test/gpu_parity.py --lib "$DT_LIB" "$@" 2>&1 | tee -a "$out"
status=${PIPESTATUS[0]}

if [ "${DT_SANITIZE:-0}" = "1" ] && [ "$status" -eq 0 ] && command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck synccheck; do
        echo "## compute-sanitizer --tool $tool (quick cases)" | tee -a "$out"
        compute-sanitizer --tool "$tool" --error-exitcode 3 \
            python3 cuda/test/gpu_parity.py --lib "$DT_LIB" --quick --no-cpu 2>&1 | tail -n 5 | tee -a "$out"
        [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    done
fi

echo "results written to $out (exit status $status)"
exit "$status"
