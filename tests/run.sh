#!/usr/bin/env bash
# Installs what is missing, builds Vigie with its tests, and runs the whole
# suite with ctest, then every libFuzzer target for a fixed number of runs
# (tests/fuzz/run.sh, a clang build in build/fuzz). Needs root: sensor and
# integration tests load real eBPF programs, create cgroups and mount
# namespaces. Extra arguments go to the first ctest; VIGIE_SKIP_FUZZ=1 skips fuzzing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [[ $EUID -ne 0 ]]; then
  echo "tests/run.sh: run as root (eBPF, cgroups and mount namespaces need it)" >&2
  exit 1
fi

"$root/deploy/install-deps.sh" --test
VIGIE_STRICT=1 BUILD_DIR="$root/build/test" "$root/deploy/build.sh" -DVIGIE_BUILD_TESTS=ON
log="$root/build/test/ctest.log"
(cd "$root/build/test" && ctest --output-on-failure --timeout 600 "$@") | tee "$log"
# A skipped test did not run: on a machine that can run Vigie's tests (root,
# eBPF, loopback servers) it is a missing capability, so it fails the suite.
if grep -q -- '\*\*\*Skipped\|Not Run' "$log"; then
  echo "tests/run.sh: tests were skipped (see above): every test must run here" >&2
  exit 1
fi
if [[ "${VIGIE_SKIP_FUZZ:-0}" != 1 ]]; then
  "$root/tests/fuzz/run.sh"
fi
