#!/usr/bin/env bash
# A/B timing of a CPU kernel: the working tree against a git revision, in one process (see ab.cpp for why).
#
# usage: benchmarks/native/ab.sh REV SPEC [ROUNDS]
#   REV     a git revision to compare with (e.g. HEAD, main~3)
#   SPEC    mse:N,C,H,W,MODE | at:N,CS,CT,H,W,POOL_P | ce:N,K,P,TAU    e.g. ce:4096,1000,1,1
#   ROUNDS  calls of each build (default 40)
# Builds both libraries CPU-only with CMake under target/ab/ (a few minutes the first time), then runs ab.
# OMP_WAIT_POLICY=PASSIVE: the triad's OpenMP threads must not spin while the kernels run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ $# -lt 2 ]; then sed -n '2,10p' "$0"; exit 2; fi
rev="$1"; spec="$2"; rounds="${3:-40}"
out="$root/target/ab"
mkdir -p "$out"

build() {  # build SOURCE_DIR NAME
    cmake -S "$1" -B "$out/$2/build" -DDT_WITH_CUDA=OFF -DDT_OUTPUT_DIR="$out/$2" > "$out/$2.log"
    cmake --build "$out/$2/build" -j "${DT_CMAKE_JOBS:-2}" --target dreamteacher >> "$out/$2.log"
}

sha="$(git -C "$root" rev-parse --short "$rev")"
rm -rf "$out/src-$sha" && mkdir -p "$out/src-$sha"
git -C "$root" archive "$sha" | tar -x -C "$out/src-$sha"
build "$out/src-$sha" "rev-$sha"
build "$root" "worktree"
g++ -O2 -fopenmp -I "$root/src/main/native/include" "$root/benchmarks/native/ab.cpp" -ldl -o "$out/ab"
OMP_WAIT_POLICY=PASSIVE "$out/ab" "$spec" "$rounds" "$out/rev-$sha/libdreamteacher.so" "$out/worktree/libdreamteacher.so"
