#!/usr/bin/env bash
# Vigie on this one machine: installs what is missing, builds, then runs the
# collector (embedded SQLite) and the agent (eBPF sensor, power, starter
# rules) in the foreground. Ctrl-C stops both.
#
# Environment: VIGIE_STATE_DIR (default /var/lib/vigie/quickstart) holds the
# database, the agent token and the generated configuration;
# VIGIE_PORT (default 9800) the collector's port on 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${VIGIE_STATE_DIR:-/var/lib/vigie/quickstart}
port=${VIGIE_PORT:-9800}

if [[ $EUID -ne 0 ]]; then
  echo "quickstart: run as root (loading eBPF programs needs it)" >&2
  exit 1
fi

"$root/deploy/install-deps.sh"
BUILD_DIR="$root/build/run" "$root/deploy/build.sh" -DVIGIE_BUILD_TESTS=OFF
bin="$root/build/run"

mkdir -p "$state"
chmod 700 "$state"
if [[ ! -s "$state/agent.token" ]]; then
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state/agent.token"
  chmod 600 "$state/agent.token"
fi
token_sha256=$(sha256sum "$state/agent.token" | cut -d' ' -f1)

cat >"$state/vigie-collector.yaml" <<YAML
listen:
  address: 127.0.0.1
  port: $port
database: $state/collector.db
# Quick start only: the API without a token, on 127.0.0.1 alone. Anywhere else,
# give people api_tokens (deploy/config/vigie-collector.yaml) and set none.
api:
  anonymous_role: admin
agent_tokens:
  - sha256: $token_sha256
    host: $(hostname)
# Correlation (port scans…) and threshold/absence rules (a silent node, drops).
rules:
  paths: [$root/rules/packs/hpc-csirt]
  ioc_lists: {mining-pools: $root/rules/packs/hpc-csirt/iocs/mining-pools.csv}
  threshold_paths: [$root/deploy/config/vigie-thresholds.yaml]
YAML
cat >"$state/vigie-agent.yaml" <<YAML
site: local
collector:
  url: http://127.0.0.1:$port
  token_file: $state/agent.token
metrics:
  listen: 127.0.0.1:9810
state_dir: $state
rules:
  path: $root/rules/packs/starter
YAML

pids=()
stop() {
  trap - INT TERM HUP
  echo
  echo "quickstart: stopping"
  # The agent first, so that its last batch still reaches the collector.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  exit 0
}
trap stop INT TERM HUP  # HUP: the terminal closed; the daemons have sessions of their own

if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
  echo "quickstart: something already answers on 127.0.0.1:$port (another Vigie?); stop it or set VIGIE_PORT" >&2
  exit 1
fi

# Own sessions: Ctrl-C reaches this script only, which stops the agent first.
setsid "$bin/collector/vigie-collector" --config "$state/vigie-collector.yaml" &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/api/v1/alerts?limit=1" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "quickstart: the collector did not start" >&2; exit 1; }
  sleep 0.1
done
setsid "$bin/agents/vigie-agent" --config "$state/vigie-agent.yaml" &
pids+=($!)

cat <<MSG

  Vigie is running on this machine.
    dashboard   http://127.0.0.1:$port/
    API         http://127.0.0.1:$port/api/v1/alerts  /api/v1/events  /api/v1/energy
    metrics     http://127.0.0.1:$port/metrics (collector)  http://127.0.0.1:9810/metrics (agent)
    CLI         $bin/cli/vigie alerts | events | energy   (--json)
  Ctrl-C stops both.

MSG
wait -n "${pids[@]}" || true
stop
