#!/usr/bin/env bash
# Training-step time of the U-Net and ResNet-18 (batch 64, 3x32x32): this library (JMH, ModelTrainingBenchmark)
# and PyTorch eager (Debian's python3-torch, pytorch_eager.py) with the same number of threads, in one run.
# Writes benchmarks/results/models-<date>-<machine>.{json,md}.
#
# usage: benchmarks/models/run.sh [threads]   (default 2)
# PyTorch runs twice: with its default oneDNN, and limited to the oneDNN ISA this library uses on this
# processor (ONEDNN_MAX_CPU_ISA=AVX512_CORE on AMD family 26, where some kernels compute wrong results;
# see org.dreamteacher.torch.ConvolutionGuard).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bench="$(dirname "$here")"
root="$(dirname "$bench")"
threads="${1:-2}"
py=/usr/bin/python3
$py -c "import torch" 2>/dev/null || { echo "needs Debian's python3-torch (apt-get install python3-torch)"; exit 1; }

(cd "$root" && mvn -B -q package -DskipTests -Ddt.docs.skip -Pjmh-jar -pl benchmarks -am)

machine="${DT_MACHINE:-$(hostname -s)-$(nproc)cpu}"
stamp="$(date +%Y-%m-%d)"
out="$bench/results"
mkdir -p "$out"
tmp="$(mktemp -d)"
java -jar "$bench/target/benchmarks.jar" ModelTrainingBenchmark -p threads="$threads" -rf json -rff "$tmp/java.json"
$py "$here/pytorch_eager.py" --threads "$threads" --out "$tmp/torch-default.json"
family="$(awk -F: '/^cpu family/{gsub(/ /,"",$2); print $2; exit}' /proc/cpuinfo)"
vendor="$(awk -F: '/^vendor_id/{gsub(/ /,"",$2); print $2; exit}' /proc/cpuinfo)"
isa=""
if [ -z "${ONEDNN_MAX_CPU_ISA:-}" ] && [ "$vendor" = "AuthenticAMD" ] && [ "$family" -ge 26 ]; then isa=AVX512_CORE; fi
if [ -n "$isa" ]; then ONEDNN_MAX_CPU_ISA=$isa $py "$here/pytorch_eager.py" --threads "$threads" --out "$tmp/torch-same-isa.json"; fi

cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
$py "$here/report.py" "$tmp" --machine "$machine: $cpu, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)" \
    --command "benchmarks/models/run.sh $threads" --isa "${isa:-default}" \
    --json "$out/models-$stamp-$machine.json" > "$out/models-$stamp-$machine.md"
cat "$out/models-$stamp-$machine.md"
