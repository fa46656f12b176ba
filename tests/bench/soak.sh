#!/usr/bin/env bash
# The 10-minute soak, on demand: 1,000 simulated agents (vigie_agent_swarm,
# real uplinks with spools) stream to the real vigie-collector (SQLite) while
# it is restarted twice (SIGTERM at 1/3, SIGKILL at 2/3); then checks zero
# loss, zero duplicates, zero drops and flat memory, and prints the figures.
# It is the suite's 60-second test (tests/integration/soak_test.cpp, one
# implementation of the checks) run longer. Root not needed; usage:
#   tests/bench/soak.sh [BUILD_DIR] [SECONDS=600] [AGENTS=1000] [RATE=2 events/s/agent]
# Build first: cmake --build BUILD_DIR --target integration_soak_test
# (which builds vigie-collector and vigie_agent_swarm).
set -euo pipefail
build=${1:-${VIGIE_BINARY_DIR:?usage: $0 BUILD_DIR [SECONDS] [AGENTS] [RATE]}}
test=$build/tests/integration/integration_soak_test
for f in "$test" "$build/collector/vigie-collector" "$build/tests/bench/vigie_agent_swarm"; do
  [[ -x $f ]] || { echo "missing $f (build the target integration_soak_test)" >&2; exit 1; }
done
figures=$(mktemp)
log=$(mktemp)
trap 'rm -f "$figures" "$log"' EXIT
status=0
VIGIE_SOAK_SECONDS=${2:-600} VIGIE_SOAK_AGENTS=${3:-1000} VIGIE_SOAK_RATE=${4:-2} \
  VIGIE_SOAK_FIGURES=$figures "$test" > "$log" 2>&1 || status=$?
if ((status != 0)); then
  grep -v '\[warning\]' "$log" | tail -n 80
  echo "soak: FAIL"
fi
cat "$figures"
((status == 0)) && echo "soak: PASS"
exit $status
