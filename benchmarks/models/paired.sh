#!/usr/bin/env bash
# Training-step times of this library and of PyTorch eager, alternating in rounds, each side in its own process,
# without installing anything into ~/.m2 (run.sh installs the library for its JMH module). Java: ConvProbe's
# "time" mode (test sources of module cli: the models of ModelTrainingBenchmark, plus the demo's ResNet-18 and U-Net at
# batch 32 of 1x28x28), with whatever ConvolutionGuard chooses; PyTorch: pytorch_eager.py (Debian's python3-torch,
# oneDNN unrestricted), same threads. Wall and process-CPU times per step; on a shared machine compare the CPU
# times and the minima, and look at the spread.
#
# Each round runs ours twice, with the library's defaults and with OPENBLAS_THREAD_TIMEOUT=4 as the dreamteacher
# launcher runs it, then PyTorch; ITERATIONS (default 10) steps each after 2 warm-up steps.
#
# usage: benchmarks/models/paired.sh [rounds] [threads]   (default 2 rounds, 2 threads); prints, writes nothing
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-2}"
threads="${2:-2}"
iterations="${ITERATIONS:-10}"
cd "$root"
mvn -B -q package -DskipTests -Ddt.cuda=OFF -Ddt.docs.skip -Ddt.native.skip >/dev/null
cp="cli/target/test-classes:cli/target/classes:$(cat cli/target/cp.txt)"
export OMP_WAIT_POLICY=PASSIVE
for r in $(seq "$rounds"); do
    echo "== round $r ($(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "-- ours, library defaults"
    java -Xmx3g -Dthreads="$threads" -Diterations="$iterations" -cp "$cp" org.dreamteacher.torch.ConvProbe time | grep -v '^setting'
    echo "-- ours, OPENBLAS_THREAD_TIMEOUT=4 (as the launcher runs)"
    OPENBLAS_THREAD_TIMEOUT=4 java -Xmx3g -Dthreads="$threads" -Diterations="$iterations" -cp "$cp" org.dreamteacher.torch.ConvProbe time | grep -v '^setting'
    /usr/bin/python3 benchmarks/models/pytorch_eager.py --threads "$threads" --iterations "$iterations" \
        | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); [print("pytorch %s %s: wall median %.0f ms, min %.0f ms; process CPU median %.0f ms, min %.0f ms" % (r["torch"], m, r[m]["median_ms"], min(r[m]["times_ms"]), r[m]["median_cpu_ms"], min(r[m]["cpu_times_ms"]))) for m in ("unet", "resnet18")]'
done
