#!/usr/bin/env bash
# Builds the library and the JMH benchmarks, runs the suite with the gc profiler, and writes
#   benchmarks/results/<date>-<machine>.json  (JMH's JSON)
#   benchmarks/results/LATEST.md              (kernel, shape, ours, libtorch, speedup, GB/s, % of triad)
#
# usage: benchmarks/run.sh [--quick] [extra JMH arguments]
#   --quick  1 warm-up and 2 measurement iterations of 0.5 s: the whole suite in under 5 minutes
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi

(cd "$root" && mvn -B -q install -DskipTests)
(cd "$here" && mvn -B -q package)

machine="${DT_MACHINE:-$(hostname -s)-$(nproc)cpu}"
stamp="$(date +%Y-%m-%d)"
mkdir -p "$here/results"
json="$here/results/$stamp-$machine$([ $quick = 1 ] && echo -quick).json"

args=(-prof gc -rf json -rff "$json")
if [ $quick = 1 ]; then args+=(-wi 1 -i 2 -w 500ms -r 500ms); fi

java -jar "$here/target/benchmarks.jar" "${args[@]}" "$@"
python3 "$here/report.py" "$json" --command "benchmarks/run.sh $([ $quick = 1 ] && echo --quick) $*" \
    --machine "$machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB" \
    > "$here/results/LATEST.md"
echo "wrote $json and $here/results/LATEST.md"
