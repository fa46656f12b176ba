#!/usr/bin/env bash
# Slurm Epilog (slurm.conf: Epilog=/usr/share/vigie/slurm/epilog.sh): appends the
# job's energy and carbon footprint to the job's standard output file, as the
# job's user, once the node's vigie-agent has reported the job ended and the
# collector has totalled it. By hand: epilog.sh --print JOB_ID.
#
# Environment: SLURM_JOB_ID, SLURM_JOB_USER (set by slurmd for Epilog);
# VIGIE_COLLECTOR (default http://127.0.0.1:9800); VIGIE_EPILOG_WAIT_S (default
# 20: the agent samples every second and flushes every second, so the job's
# end reaches the collector within a few seconds). The epilog never fails the
# job: any problem is logged to syslog and the script exits 0.
set -u
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

if [[ "${1:-}" == "--print" ]]; then
  [[ -n "${2:-}" ]] || { echo "usage: $0 --print JOB_ID" >&2; exit 2; }
  footprint "$2"
  exit $?
fi

job=${SLURM_JOB_ID:-}
user=${SLURM_JOB_USER:-}
[[ "$job" =~ ^[0-9]+$ && -n "$user" ]] || { logger -t vigie-epilog "no SLURM_JOB_ID/USER"; exit 0; }
# Where the job's stdout went (Slurm >= 23.02 exports it to the epilog; else ask slurmctld once).
out=${SLURM_JOB_STDOUT:-}
if [[ -z "$out" ]]; then
  out=$(scontrol show job -o "$job" 2>/dev/null | tr ' ' '\n' | sed -n 's/^StdOut=//p')
fi
(
  if summary=$(footprint "$job"); then
    if [[ -n "$out" && "$out" != /dev/null ]]; then
      printf '\n--- Vigie: energy and carbon footprint of job %s ---\n%s\n' "$job" "$summary" |
        runuser -u "$user" -- tee -a "$out" >/dev/null
    fi
  else
    logger -t vigie-epilog "job $job: no footprint from $collector within ${wait_s}s"
  fi
) </dev/null >/dev/null 2>&1 &
disown
exit 0
