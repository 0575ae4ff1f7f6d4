#!/usr/bin/env bash
# Data-parallel throughput on this machine: distill and train-teacher with 1 process and with --nproc 2,
# 1 libtorch thread per process, the same global batch. Prints each run's summary lines; the numbers in
# benchmarks/results/data-parallel-*.md come from this script.
# Usage: benchmarks/parallel/run.sh [STEPS]   (from the repository root, after mvn -B -Ddt.cuda=OFF package -DskipTests -Ddt.docs.skip)
set -euo pipefail
steps="${1:-40}"
export OMP_WAIT_POLICY=PASSIVE
run() { java -cp "cli/target/classes:$(cat cli/target/cp.txt)" org.dreamteacher.cli.DreamTeacherCli "$@" --no-progress --threads 1; }
out="$(mktemp -d)"
distill=(distill --steps "$steps" --batch 32 --width 16 --regressor-channels 32 --checkpoint-every 1000)
teacher=(train-teacher --steps "$steps" --batch 32 --samples 0 --checkpoint-every 1000)
for n in 1 2; do
    echo "== distill, $n process(es)"
    if [[ $n == 1 ]]; then run "${distill[@]}" --out "$out/d$n" | grep -E "distilled|data-parallel"
    else run "${distill[@]}" --nproc $n --out "$out/d$n" | grep -E "distilled|data-parallel|starting"; fi
    echo "== train-teacher, $n process(es)"
    if [[ $n == 1 ]]; then run "${teacher[@]}" --out "$out/t$n" | grep -E "trained|data-parallel"
    else run "${teacher[@]}" --nproc $n --out "$out/t$n" | grep -E "trained|data-parallel|starting"; fi
done
echo "== distill, 2 processes, 1 MB buckets"
run "${distill[@]}" --nproc 2 --bucket-mb 1 --out "$out/d2b" | grep -E "distilled|data-parallel"
rm -rf "$out"
