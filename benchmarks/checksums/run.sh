#!/usr/bin/env bash
# Behaviour checksums: a tiny teacher training, a distillation from that teacher, a label-guided distillation
# from it, a fine-tuning of the distilled backbone and a segmentation fine-tuning of it, a tiny GAN training, a
# distillation from its generator, a generated feature store of it, and the demo's quick run, all with fixed seeds on one thread, then the SHA-256 of every model file (*.dtt) and of
# the numbers each run wrote (metrics.jsonl and the results JSON, without wall-clock fields and with the output
# folder's path replaced by OUT). Two builds that print the same lines compute the same things.
#
# Usage: benchmarks/checksums/run.sh OUT_DIR   (run from the repository root after
#        mvn -o package -pl cli -am -DskipTests -Ddt.docs.skip, which writes cli/target/cp.txt)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:?usage: $0 OUT_DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
[[ -f "$root/cli/target/cp.txt" ]] || { echo "$0: build the cli first (mvn package -pl cli -am -DskipTests)" >&2; exit 1; }

export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
dt() {
    java -cp "$root/cli/target/classes:$(cat "$root/cli/target/cp.txt")" org.dreamteacher.cli.DreamTeacherCli "$@" \
        --threads 1 --no-progress
}

runs="teacher distill finetune guided segment gan gan-distill gan-store demo"
for r in $runs; do rm -rf "${out:?}/$r"; done
dt train-teacher --data embedded --steps 4 --batch 8 --base-channels 8 --channel-mult 1,2 --taps 0,2 --timesteps 100 \
    --checkpoint-every 2 --samples 2 --sample-steps 5 --seed 1 --out "$out/teacher" >"$out/teacher.log"
dt distill --data embedded --teacher "$out/teacher/teacher.dtt" --steps 3 --batch 4 --width 8 --regressor-channels 16 \
    --timestep 20 --checkpoint-every 2 --seed 2 --out "$out/distill" >"$out/distill.log"
dt finetune --data embedded --backbone "$out/distill/backbone.dtt" --labels 1 --steps 3 --batch 8 --test-images 50 \
    --out "$out/finetune" >"$out/finetune.log"
dt distill --data embedded --teacher "$out/teacher/teacher.dtt" --steps 3 --batch 4 --width 8 --regressor-channels 16 \
    --timestep 20 --checkpoint-every 2 --label-guided --labels 1 --interpreter-steps 3 --seed 3 --out "$out/guided" >"$out/guided.log"
dt segment --data embedded --backbone "$out/distill/backbone.dtt" --scenes 4 --test-scenes 4 --scene-size 32 --steps 3 --batch 2 \
    --head-channels 8 --out "$out/segment" >"$out/segment.log"
dt train-gan --data embedded --steps 3 --batch 4 --width 8 --samples 4 --checkpoint-every 2 --sample-every 2 --seed 4 \
    --out "$out/gan" >"$out/gan.log"
dt distill --gan "$out/gan/generator.dtt" --steps 2 --batch 4 --width 4 --regressor-channels 8 --checkpoint-every 2 --seed 5 \
    --out "$out/gan-distill" >"$out/gan-distill.log"
dt encode --gan "$out/gan/generator.dtt" --synthetic 8 --chunk-size 4 --batch 2 --precision float32 --seed 6 \
    --out "$out/gan-store" >"$out/gan-store.log"
dt demo --quick --out "$out/demo" >"$out/demo.log"

# The numbers of a JSON document: keys that hold wall-clock times or the build's identity are dropped, paths
# under OUT are written relative to it; keys are sorted so that only values count.
numbers() {
    jq -cS --arg out "$out" 'walk(if type == "object" then with_entries(select(.key | test("^(seconds|wallSeconds|time|date|started|finished|elapsed.*|cpuSeconds.*|commit|version|host|java)$"; "i") | not)) elif type == "string" then gsub($out; "OUT") else . end)' "$1"
}

cd "$out"
# shellcheck disable=SC2086
for f in $(find $runs -name '*.dtt' | LC_ALL=C sort); do
    sha256sum "$f"
done
# shellcheck disable=SC2086
for f in $(find $runs -name '*.json' -o -name '*.jsonl' | LC_ALL=C sort); do
    echo "$(numbers "$f" | sha256sum | cut -d' ' -f1)  numbers of $f"
done
