#!/usr/bin/env bash
# Exec and connect storms timed with no agent, with vigie-agent (full sensor +
# starter rules) and with libbpf-tools' execsnoop (the floor of what tracing
# execs costs); prints the slowdowns as ratios against the no-agent runs of
# the same invocation, and the agent's peak RSS. Root; usage:
#   tests/bench/sensor_storm.sh BUILD_DIR [EXECS=20000] [CONNECTS=20000] [ROUNDS=3]
set -euo pipefail
build=${1:-${VIGIE_BINARY_DIR:?usage: $0 BUILD_DIR [EXECS] [CONNECTS] [ROUNDS]}}
execs=${2:-20000}
connects=${3:-20000}
rounds=${4:-3}
src=$(cd "$(dirname "$0")/../.." && pwd)
storm=$build/tests/bench/sensor_storm
agent=$build/agents/vigie-agent
collector=$build/collector/vigie-collector
execsnoop=/usr/sbin/execsnoop
for f in "$storm" "$agent" "$collector" "$execsnoop"; do
  [[ -x $f ]] || { echo "missing $f (build the targets sensor_storm and vigie-agent; apt-get install libbpf-tools)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/agent.yaml" <<YAML
site: bench
state_dir: $work/state
collector: {url: "http://127.0.0.1:19800", token: bench-token}
metrics: {listen: "127.0.0.1:19810"}
rules: {path: $src/rules/packs/starter}
power: {enabled: false}
log_level: warn
YAML

# best of `rounds` runs of one storm (least noise on a shared machine)
best() {
  local b="" t
  for ((r = 0; r < rounds; r++)); do
    t=$("$storm" "$1" "$2")
    if [[ -z $b ]] || awk -v t="$t" -v b="$b" 'BEGIN{exit !(t<b)}'; then b=$t; fi
  done
  echo "$b"
}

# A real collector on loopback, so that the agent's uplink drains as in production.
token_sha=$(printf %s bench-token | sha256sum | cut -d' ' -f1)
cat > "$work/collector.yaml" <<YAML
listen: {address: 127.0.0.1, port: 19800}
database: $work/collector.db
agent_tokens: [{sha256: $token_sha, site: bench, any_host: true}]
YAML
"$collector" --config "$work/collector.yaml" > "$work/collector.log" 2>&1 &

declare -A t
t[exec,none]=$(best exec "$execs"); t[connect,none]=$(best connect "$connects")

"$agent" --config "$work/agent.yaml" > "$work/agent.log" 2>&1 &
agent_pid=$!
sleep 3
t[exec,agent]=$(best exec "$execs"); t[connect,agent]=$(best connect "$connects")
rss_kib=$(awk '/VmHWM/{print $2}' /proc/$agent_pid/status)
# Where the resident memory is now: anonymous (heap, stacks) vs mapped
# (libraries, and the BPF maps: the ring buffer is mapped whole at mmap time,
# its data pages twice, so it is resident at 2 x ringbuf_bytes).
rss_split=$(awk '/^Rss(Anon|File|Shmem):/{printf "%s %d MiB  ", $1, $2 / 1024}' /proc/$agent_pid/status)
ring_kib=$(awk -v pid=$agent_pid '/^[0-9a-f]+-[0-9a-f]+ /{m = ($6 == "anon_inode:bpf-map")}
  m && /^Rss:/{s += $2} END{print s + 0}' /proc/$agent_pid/smaps)
curl -s http://127.0.0.1:19810/metrics \
  | grep -E '^vigie_(sensor_(ringbuf_drops_total|events_total)|uplink_(queue_events|events_dropped_total))' \
  | awk '$2 != 0' > "$work/metrics" || true
kill $agent_pid; wait $agent_pid 2>/dev/null || true

"$execsnoop" > /dev/null 2>&1 &
snoop_pid=$!
sleep 3
t[exec,execsnoop]=$(best exec "$execs")
kill $snoop_pid; wait $snoop_pid 2>/dev/null || true

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
echo "exec storm ($execs fork+exec of /bin/true, best of $rounds):"
echo "  no agent     ${t[exec,none]} s"
echo "  vigie-agent  ${t[exec,agent]} s  x$(ratio "${t[exec,agent]}" "${t[exec,none]}")"
echo "  execsnoop    ${t[exec,execsnoop]} s  x$(ratio "${t[exec,execsnoop]}" "${t[exec,none]}")"
awk -v a="${t[exec,agent]}" -v s="${t[exec,execsnoop]}" -v n="${t[exec,none]}" \
  'BEGIN{ if (s > n) printf "  vigie-agent overhead / execsnoop overhead: %.2f\n", (a-n)/(s-n);
          else print "  execsnoop overhead below noise: no overhead ratio" }'
echo "connect storm ($connects connect+accept on 127.0.0.1, best of $rounds):"
echo "  no agent     ${t[connect,none]} s"
echo "  vigie-agent  ${t[connect,agent]} s  x$(ratio "${t[connect,agent]}" "${t[connect,none]}")"
echo "vigie-agent peak RSS: $((rss_kib / 1024)) MiB (now: ${rss_split}of which ring-buffer mappings $((ring_kib / 1024)) MiB)"
echo "vigie-agent sensor counters (non-zero):"
sed 's/^/  /' "$work/metrics"
