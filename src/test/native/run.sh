#!/usr/bin/env bash
# Native reliability checks of the C ABI (see RELIABILITY.md). `mvn verify` runs `run.sh all 20`.
#
#   src/test/native/run.sh sanitize        AddressSanitizer + UBSan build (g++) in target/native-sanitize,
#                                          then the native test program dt_native_test
#   src/test/native/run.sh fuzz [SECONDS]  libFuzzer build (clang) in target/native-fuzz, then each fuzz
#                                          target for SECONDS (default 20); corpora in target/native-fuzz/corpus
#   src/test/native/run.sh all [SECONDS]   both
#   src/test/native/run.sh cuda-emulated   the non-finite cases of the test program through the CUDA kernels,
#                                          run on the CPU by the emulator of cuda/test/emulator (ASan + UBSan;
#                                          needs python3; not part of `all`)
#
# Without clang and libFuzzer (Debian: apt-get install clang libclang-rt-dev) the fuzz step says so and is
# skipped; .ci/run installs them. A sanitizer report, a failed check or a fuzz crash ends the script with a
# non-zero status (crash inputs are kept in target/native-fuzz/artifacts/). DT_CMAKE_JOBS sets the build's
# parallelism (default 2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
what="${1:-all}"
seconds="${2:-20}"
jobs="${DT_CMAKE_JOBS:-2}"
# Build folders go under DT_BUILD_DIR (Maven passes the kernels module's target folder), else target/.
out="${DT_BUILD_DIR:-$root/target}"
mkdir -p "$out"

# Sanitizer runtime options: stop at the first report, with a stack trace and a non-zero status.
export ASAN_OPTIONS="abort_on_error=0:halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

sanitize() {
    local build="$out/native-sanitize"
    echo "== native tests under AddressSanitizer + UndefinedBehaviorSanitizer ($build)"
    # CUDA off: the sanitizers instrument host code only; the CUDA entry points' argument checks are
    # host code and are tested through the stub.
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDT_WITH_CUDA=OFF -DDT_SANITIZE=ON \
        -DDT_NATIVE_TESTS=ON -DDT_OUTPUT_DIR="$build/out" > "$build.configure.log" 2>&1 \
        || { cat "$build.configure.log"; return 1; }
    cmake --build "$build" -j "$jobs" --target dt_native_test > "$build.build.log" 2>&1 \
        || { cat "$build.build.log"; return 1; }
    local start=$SECONDS
    "$build/out/dt_native_test"
    echo "native tests passed with no sanitizer report ($((SECONDS - start)) s)"
}

have_libfuzzer() {
    command -v clang++ > /dev/null 2>&1 || return 1
    local probe
    probe="$(mktemp -d)"
    printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' \
        > "$probe/p.cpp"
    local ok=0
    clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" > /dev/null 2>&1 || ok=1
    rm -rf "$probe"
    return $ok
}

fuzz() {
    local build="$out/native-fuzz"
    if ! have_libfuzzer; then
        echo "== fuzzing SKIPPED: clang with libFuzzer was not found (Debian: apt-get install clang libclang-rt-dev)"
        return 0
    fi
    echo "== fuzzing the C ABI with libFuzzer, ${seconds} s per target ($build)"
    CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDT_WITH_CUDA=OFF \
        -DDT_FUZZ=ON -DDT_OUTPUT_DIR="$build/out" > "$build.configure.log" 2>&1 \
        || { cat "$build.configure.log"; return 1; }
    cmake --build "$build" -j "$jobs" --target fuzz_whitened_mse fuzz_attention_transfer fuzz_soft_target_ce \
        > "$build.build.log" 2>&1 || { cat "$build.build.log"; return 1; }
    mkdir -p "$build/artifacts"
    local status=0 fn
    for fn in whitened_mse attention_transfer soft_target_ce; do
        mkdir -p "$build/corpus/$fn"
        local log="$build/fuzz_$fn.log"
        if "$build/out/fuzz_$fn" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=20 \
            -artifact_prefix="$build/artifacts/$fn-" "$build/corpus/$fn" > "$log" 2>&1; then
            local runs corpus
            runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
            corpus="$(find "$build/corpus/$fn" -type f | wc -l)"
            echo "fuzz_$fn: ${runs} executions in ${seconds} s, corpus ${corpus} inputs, no crash"
        else
            status=1
            echo "fuzz_$fn FAILED (log: $log):"
            grep -E -A30 "CONTRACT VIOLATION|ERROR:|runtime error" "$log" | head -60
        fi
    done
    return $status
}

cuda_emulated() {
    local build="$out/native-cuda-emu" here="$root/cuda/test/emulator"
    echo "== non-finite inputs through the CUDA kernels, emulated on the CPU ($build)"
    mkdir -p "$build/src"
    local f
    for f in device whitened_mse attention_transfer soft_target_ce; do
        python3 "$here/prep.py" "$root/cuda/$f.cu" "$build/src/cu_$f.cpp"
    done
    g++ -std=c++17 -pthread -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
        -DDT_TEST_CUDA_HOST_MEMORY -DDT_VERSION='"emu"' -I "$here/include" -I "$root/cuda" \
        -I "$root/src/main/native/include" -I "$root/src/main/native" "$here/emu.cpp" "$build"/src/cu_*.cpp \
        "$root"/src/main/native/*.cpp "$root/src/test/native/native_test.cpp" -o "$build/dt_native_test_cuda_emu"
    ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0:detect_stack_use_after_return=0" "$build/dt_native_test_cuda_emu"
}

case "$what" in
    sanitize) sanitize ;;
    fuzz) fuzz ;;
    all) sanitize && fuzz ;;
    cuda-emulated) cuda_emulated ;;
    *) echo "usage: $0 [sanitize|fuzz [SECONDS]|all [SECONDS]|cuda-emulated]" >&2; exit 2 ;;
esac
