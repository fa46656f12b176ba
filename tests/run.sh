#!/usr/bin/env bash
# Installs what is missing, builds Vigie with its tests, and runs the whole
# suite with ctest, then every libFuzzer target for a fixed number of runs
# (tests/fuzz/run.sh, a clang build in build/fuzz), with clang-tidy on Vigie's
# own code in between (tests/tidy.sh). Needs root: sensor and
# integration tests load real eBPF programs, create cgroups and mount
# namespaces. Extra arguments go to ctest; VIGIE_SKIP_FUZZ=1 skips fuzzing;
# CTEST_PARALLEL_LEVEL sets how many tests run at once (default: nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [[ $EUID -ne 0 ]]; then
  echo "tests/run.sh: run as root (eBPF, cgroups and mount namespaces need it)" >&2
  exit 1
fi

# Each phase's wall time, for the summary.
phase_start=$SECONDS
phases=""
phase_done() {
  phases+="$1 $((SECONDS - phase_start)) s, "
  phase_start=$SECONDS
}

"$root/deploy/install-deps.sh" --test
phase_done install
VIGIE_STRICT=1 BUILD_DIR="$root/build/test" "$root/deploy/build.sh" -DVIGIE_BUILD_TESTS=ON
phase_done build

# The ctest arguments and one PostgreSQL cluster for the run (tests/suite.sh).
. "$root/tests/suite.sh"
if [[ -z "${VIGIE_TEST_POSTGRES_URL:-}" ]]; then
  trap stop_postgres EXIT
  start_postgres || echo "tests/run.sh: no shared PostgreSQL (see ${pg_dir:-?}): tests start their own" >&2
fi
# The fuzz targets run even when ctest failed, so that one run reports
# everything; the summary comes last.
log="$root/build/test/ctest.log"
ctest_status=0
(cd "$root/build/test" &&
  ctest "${ctest_args[@]}" "$@") |
  tee "$log" || ctest_status=$?
phase_done ctest
ctest_line=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true)
# A skipped test did not run: on a machine that can run Vigie's tests (root,
# eBPF, loopback servers) it is a missing capability, so it fails the suite.
skipped=$(grep -c -- '\*\*\*Skipped\|Not Run' "$log" || true)
[[ -z "$ctest_line" ]] && ctest_status=1

# clang-tidy on Vigie's own code (.clang-tidy; findings are errors).
tidy_status=0
"$root/tests/tidy.sh" >"$root/build/test/tidy.log" 2>&1 || tidy_status=$?
phase_done clang-tidy
tidy_line="clang-tidy: clean"
if ((tidy_status != 0)); then
  tidy_line="clang-tidy: findings (build/test/tidy.log)"
  grep -E "(warning|error):" "$root/build/test/tidy.log" | sort -u | head -n 50 || true
fi

fuzz_status=0
fuzz_line="fuzz targets: not run (VIGIE_SKIP_FUZZ=1)"
if [[ "${VIGIE_SKIP_FUZZ:-0}" != 1 ]]; then
  fuzz_log="$root/build/test/fuzz.log"
  "$root/tests/fuzz/run.sh" | tee "$fuzz_log" || fuzz_status=$?
  fuzz_line="fuzz targets: $(grep -E '^[0-9]+% tests passed' "$fuzz_log" | tail -n 1 || echo "did not run (build failed)")"
  grep -qE '^[0-9]+% tests passed' "$fuzz_log" || fuzz_status=1
  phase_done "fuzz (build and run)"
fi

echo
echo "== tests/run.sh summary"
echo "ctest: ${ctest_line:-did not complete}"
if ((skipped > 0)); then echo "ctest: $skipped tests skipped: every test must run here"; fi
echo "$tidy_line"
echo "$fuzz_line"
echo "time: ${phases%, } (total $SECONDS s)"
# One closing line over both: passed and failed test cases and fuzz targets.
totals=$(cat "$log" "${fuzz_log:-/dev/null}" 2>/dev/null |
  sed -nE 's/^[0-9]+% tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1 \2/p' |
  awk '{ f += $1; t += $2 } END { printf "%d %d", t - f, f }')
read -r passed failed <<<"${totals:-0 0}"
echo "total: $passed passed, $failed failed"
if ((ctest_status != 0 || skipped > 0 || tidy_status != 0 || fuzz_status != 0)); then
  echo "tests/run.sh: FAILED"
  exit 1
fi
echo "tests/run.sh: all passed"
