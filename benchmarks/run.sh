#!/usr/bin/env bash
# Builds the library and the JMH benchmarks, runs the suite with the gc profiler, and writes
#   benchmarks/results/<date>-<machine>.json  (JMH's JSON)
#   benchmarks/results/LATEST.md              (kernel, shape, ours, libtorch, speedup, GB/s, % of triad)
#
# usage: benchmarks/run.sh [--quick] [extra JMH arguments]
#   full run: 3 forks of every kernel benchmark, about 40 minutes on 2 cores
#   --quick  one JVM for all benchmarks (no forks), 1 warm-up and 2 measurement iterations of 0.3 s:
#            the whole suite in under 5 minutes, for a first look; it writes <date>-<machine>-quick.json
#            and prints its table instead of replacing LATEST.md
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi

(cd "$root" && mvn -B -q package -DskipTests -Ddt.docs.skip -Pjmh-jar -pl benchmarks -am)

machine="${DT_MACHINE:-$(hostname -s)-$(nproc)cpu}"
stamp="$(date +%Y-%m-%d)"
mkdir -p "$here/results"
suffix=""; flag=""
if [ $quick = 1 ]; then suffix="-quick"; flag="--quick"; fi
json="$here/results/$stamp-$machine$suffix.json"

args=(-prof gc -rf json -rff "$json")
if [ $quick = 1 ]; then args+=(-f 0 -wi 1 -i 2 -w 300ms -r 300ms); fi

java -jar "$here/target/benchmarks.jar" "${args[@]}" "$@"
report=("$here/report.py" "$json" --command "benchmarks/run.sh $flag $*"
        --machine "$machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, $(date -u +%Y-%m-%dT%H:%MZ)")
if [ $quick = 1 ]; then
  python3 "${report[@]}"
  echo "wrote $json"
else
  python3 "${report[@]}" > "$here/results/LATEST.md"
  echo "wrote $json and $here/results/LATEST.md"
fi
