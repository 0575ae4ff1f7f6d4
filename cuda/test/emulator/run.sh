#!/usr/bin/env bash
# Runs the CUDA kernels (cuda/*.cu) on the CPU through a small CUDA emulator: each CUDA thread is a
# fiber, __syncthreads and warp shuffles are real barriers (a deadlock, a divergent barrier or a
# partial warp aborts), scratch and shared memory start as NaN bytes, and every case runs under 3
# thread/block orders that must give bit-identical results (a race would not). Built with
# AddressSanitizer + UBSan. Checks against a long double reference and the CPU kernels, for several
# emulated devices (SM count, opt-in shared memory, with and without memory pools).
# With PyTorch importable (e.g. Debian's python3-torch), also runs gpu_parity.py --quick on it.
# Usage (from anywhere): cuda/test/emulator/run.sh      Output goes to build-emu/ (gitignored).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
here="$root/cuda/test/emulator"
out="$root/build-emu"
mkdir -p "$out/src"
for f in device whitened_mse attention_transfer soft_target_ce; do
    python3 "$here/prep.py" "$root/cuda/$f.cu" "$out/src/cu_$f.cpp"
done
common=(-std=c++17 -pthread -I "$here/include" -I "$root/cuda" -I "$root/src/main/native/include"
        -I "$root/src/main/native" -DDT_VERSION='"emu"' "$here/emu.cpp" "$out"/src/cu_*.cpp
        "$root"/src/main/native/*.cpp)
g++ "${common[@]}" -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer "$here/emu_test.cpp" -o "$out/emu_test"
status=0
# Arguments: emulated SMs, opt-in shared memory (bytes), memory pools supported.
for cfg in "3 232448 1" "132 232448 1" "1 49152 1" "7 100000 0"; do
    echo "== emulated device: SMs, opt-in smem, pools = $cfg"
    ASAN_OPTIONS=detect_leaks=0 "$out/emu_test" $cfg > "$out/emu_test.log" 2>&1 || status=1
    grep -v "^ok\|WARNING: ASan doesn't fully support" "$out/emu_test.log" || true
done
for py in python3 /usr/bin/python3; do
    if "$py" -c "import torch" 2>/dev/null; then
        g++ "${common[@]}" -O2 -fPIC -shared -o "$out/libdt_emu.so"
        echo "== gpu_parity.py --quick on the emulated library ($py)"
        "$py" "$here/run_parity_emulated.py" --lib "$out/libdt_emu.so" --quick | grep -v "^ok" || status=1
        break
    fi
done
exit $status
