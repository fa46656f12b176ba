#!/usr/bin/env bash
# Builds Vigie optimised (build/bench) and runs every benchmark: the
# executables named *_bench that tests/bench/*.cmake declare (Google Benchmark
# or self-timed), then the scripts tests/bench/*.sh (given the build directory
# as VIGIE_BINARY_DIR). Each prints its figures as ratios
# against a baseline measured in the same run; nothing here asserts on time.
#   tests/bench/run.sh              all of them
#   tests/bench/run.sh rules power  only those whose name contains a word given
# Needs root for the sensor benchmark (eBPF). Environment: BENCH_BUILD_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${BENCH_BUILD_DIR:-$root/build/bench}

"$root/deploy/install-deps.sh" --test
BUILD_DIR="$build_dir" "$root/deploy/build.sh" -DVIGIE_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release

wanted() {
  (($# == 0)) && return 0
  local name=$1
  shift
  for word in "${filters[@]}"; do [[ "$name" == *"$word"* ]] && return 0; done
  return 1
}
filters=("$@")

export VIGIE_BINARY_DIR="$build_dir"
status=0
for bench in "$build_dir"/tests/bench/*_bench; do
  [[ -f "$bench" && -x "$bench" ]] || continue
  name=$(basename "$bench")
  ((${#filters[@]})) && ! wanted "$name" "${filters[@]}" && continue
  echo "== $name"
  "$bench" || status=1
done
for script in "$root"/tests/bench/*.sh; do
  name=$(basename "$script")
  [[ "$name" == run.sh ]] && continue
  ((${#filters[@]})) && ! wanted "$name" "${filters[@]}" && continue
  echo "== $name"
  bash "$script" || status=1
done
exit $status
