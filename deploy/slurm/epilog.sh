#!/usr/bin/env bash
# Slurm Epilog (slurm.conf: Epilog=/usr/share/vigie/slurm/epilog.sh): appends the
# job's energy and carbon footprint to the job's standard output file, as the
# job's user, once the node's vigie-agent has reported the job ended and the
# collector has totalled it. By hand: epilog.sh --print JOB_ID.
#
# Environment: SLURM_JOB_ID, SLURM_JOB_USER (set by slurmd for Epilog);
# VIGIE_COLLECTOR (default http://127.0.0.1:9800); VIGIE_EPILOG_WAIT_S (default
# 20: the agent samples every second and flushes every second, so the job's
# end reaches the collector within a few seconds). slurmd gives the Epilog
# only SLURM_* variables (no PATH): set these in /etc/vigie/epilog.env, read
# when present. The epilog never fails the job: any problem is logged to
# syslog and the script exits 0.
set -u
export PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
# shellcheck source=/dev/null
[[ -r /etc/vigie/epilog.env ]] && . /etc/vigie/epilog.env
# For `vigie`, when epilog.env sets them: VIGIE_TOKEN_FILE (an API token with
# role sustainability, readable by root only) and VIGIE_CA_FILE (https collector).
export VIGIE_TOKEN_FILE VIGIE_CA_FILE
vigie=${VIGIE_CLI:-vigie}
collector=${VIGIE_COLLECTOR:-http://127.0.0.1:9800}
wait_s=${VIGIE_EPILOG_WAIT_S:-20}

footprint() {  # JOB_ID -> the summary on stdout, or fails after wait_s seconds
  local deadline=$((SECONDS + wait_s))
  while :; do
    if "$vigie" --collector "$collector" --timeout 5 job "$1" 2>/dev/null; then return 0; fi
    ((SECONDS >= deadline)) && return 1
    sleep 1
  done
}

# As the job's user, appends the footprint of job $1 to file $3 (owned by user $2).
deliver() {
  local summary
  if ! summary=$(footprint "$1"); then
    logger -t vigie-epilog "job $1: no footprint from $collector within ${wait_s}s"
  elif [[ -n "$3" && "$3" != /dev/null ]]; then
    printf '\n--- Vigie: energy and carbon footprint of job %s ---\n%s\n' "$1" "$summary" |
      runuser -u "$2" -- tee -a "$3" >/dev/null
  fi
}

case "${1:-}" in
  --print)
    [[ -n "${2:-}" ]] || { echo "usage: $0 --print JOB_ID" >&2; exit 2; }
    footprint "$2"
    exit $?
    ;;
  --deliver)
    exec >/dev/null  # tells the Epilog this process is in its own session (below)
    deliver "$2" "$3" "$4"
    exit 0
    ;;
esac

job=${SLURM_JOB_ID:-}
user=${SLURM_JOB_USER:-}
[[ "$job" =~ ^[0-9]+$ && -n "$user" ]] || { logger -t vigie-epilog "no SLURM_JOB_ID/USER"; exit 0; }
# Where the job's stdout went, with sbatch(1)'s filename patterns (%j, %x, …)
# filled in: slurmd exports it unexpanded when sbatch had -o, else slurmctld
# is asked once; so is it for the job's name and array indices when needed.
out=${SLURM_JOB_STDOUT:-}
info=""
if [[ -z "$out" || "$out" =~ %[0-9]*[Aax] ]]; then
  info=$(scontrol show job -o "$job" 2>/dev/null | tr ' ' '\n')
fi
field() { sed -n "s/^$1=//p" <<<"$info" | head -n 1; }
[[ -n "$out" ]] || out=$(field StdOut)
if [[ "$out" == *%* ]]; then
  name=$(field JobName)
  array_job=${SLURM_ARRAY_JOB_ID:-$(field ArrayJobId)}
  array_task=${SLURM_ARRAY_TASK_ID:-$(field ArrayTaskId)}
  expanded=""
  while [[ "$out" =~ ^([^%]*)%([0-9]*)([%AaJjNux])(.*)$ ]]; do
    before=${BASH_REMATCH[1]} width=${BASH_REMATCH[2]} letter=${BASH_REMATCH[3]}
    out=${BASH_REMATCH[4]}
    value=""
    case "$letter" in
      %) value=% ;;
      A) value=${array_job:-$job} ;;
      a) value=${array_task:-4294967294} ;;
      J | j) value=$job ;;
      N) value=${SLURMD_NODENAME:-$(hostname -s)} ;;
      u) value=$user ;;
      x) value=$name ;;
    esac
    # %<n>j: zero-padded to n digits (numbers only).
    if [[ -n "$width" && "$value" =~ ^[0-9]+$ ]]; then
      value=$(printf "%0${width}d" "$((10#$value))")
    fi
    expanded+="$before$value"
  done
  out="$expanded$out"
fi
# The footprint comes once the agents have reported the job's end: wait for it
# in a session of its own, since slurmd kills the Epilog's process group when
# the script returns. setsid -f returns before its child has left that group:
# the command substitution waits for the child to close its stdout, which it
# does only once running in its new session. Without it, a busy node lost
# one delivery in eight (a killed child) in a simulation of slurmd.
: "$(setsid -f "$0" --deliver "$job" "$user" "$out" </dev/null 2>/dev/null)"
exit 0
