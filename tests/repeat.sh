#!/usr/bin/env bash
# Runs the whole suite (already built by tests/run.sh into build/test) RUNS
# times in a row, in ctest's order and in parallel as tests/run.sh does, to
# find tests whose outcome depends on timing or load. With --stress, each run
# has `stress-ng --cpu <cores>` beside it (Debian's stress-ng). Prints one
# line per run: passed/failed, wall time, the machine's 1-minute load average
# (mean and max of samples every 10 s) and the names of failed tests; each
# run's whole output is in build/test/repeat/. Extra arguments go to ctest.
#   tests/repeat.sh 5            # idle machine
#   tests/repeat.sh 3 --stress   # loaded machine
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:?usage: tests/repeat.sh RUNS [--stress] [ctest arguments]}
shift
stress=0
if [[ "${1:-}" == --stress ]]; then
  stress=1
  shift
  command -v stress-ng >/dev/null || { echo "tests/repeat.sh: --stress needs stress-ng (apt install stress-ng)" >&2; exit 1; }
fi
[[ $EUID -eq 0 ]] || { echo "tests/repeat.sh: run as root, as tests/run.sh" >&2; exit 1; }
[[ -f "$root/build/test/CTestTestfile.cmake" ]] || { echo "tests/repeat.sh: build the suite first (tests/run.sh)" >&2; exit 1; }

. "$root/tests/suite.sh"
out="$root/build/test/repeat"
mkdir -p "$out"
background=()
cleanup() {
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_postgres
}
trap cleanup EXIT
if [[ -z "${VIGIE_TEST_POSTGRES_URL:-}" ]]; then
  start_postgres || echo "tests/repeat.sh: no shared PostgreSQL: tests start their own" >&2
fi

status=0
for ((run = 1; run <= runs; run++)); do
  label="no load added" suffix=""
  if [[ $stress == 1 ]]; then label="with stress-ng" suffix="-stress"; fi
  log="$out/run-$(date +%Y%m%dT%H%M%S)$suffix.log"
  loads="$log.load"
  : >"$loads"
  (while sleep 10; do cut -d' ' -f1 /proc/loadavg >>"$loads"; done) &
  sampler=$!
  background=("$sampler")
  if [[ $stress == 1 ]]; then
    stress-ng --cpu "$(nproc)" --quiet >/dev/null 2>&1 &
    background+=("$!")
  fi
  start=$SECONDS
  (cd "$root/build/test" &&
    ctest "${ctest_args[@]}" "$@") >"$log" 2>&1 || status=1
  elapsed=$((SECONDS - start))
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  background=()
  result=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || echo "did not complete")
  load=$(awk '{ s += $1; if ($1 > m) m = $1 } END { if (NR) printf "load mean %.1f max %.1f", s / NR, m }' "$loads")
  failed=$(sed -nE 's/^[[:space:]]*[0-9]+ - (.*) \(.*\)$/\1/p' "$log" | tr '\n' ' ')
  echo "run $run ($label): $result; ${elapsed} s; $load${failed:+; failed: $failed}"
done
exit $status
