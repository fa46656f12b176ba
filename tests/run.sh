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

# One PostgreSQL cluster for the run, on loopback: the store tests make a
# database each in it (tests/collector/postgres_instance.h). If it cannot
# start, each test starts a private cluster instead (slower, same checks).
start_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$bin" && -x "$bin/initdb" ]] || return 1
  pg_dir=$(mktemp -d /tmp/vigie-test-pg-XXXXXX)
  chown postgres: "$pg_dir"
  runuser -u postgres -- "$bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync >"$pg_dir/initdb.log" 2>&1 || return 1
  local port
  for port in $(shuf -i 20000-60000 -n 5); do
    if runuser -u postgres -- "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w \
      -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=400" start \
      >/dev/null 2>&1; then
      pg_ctl_stop=("$bin/pg_ctl" -D "$pg_dir/data" -m fast stop)
      export VIGIE_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
  done
  return 1
}
stop_postgres() {
  if [[ -n "${pg_ctl_stop+x}" ]]; then runuser -u postgres -- "${pg_ctl_stop[@]}" >/dev/null 2>&1 || true; fi
  if [[ -n "${pg_dir:-}" ]]; then rm -rf "$pg_dir"; fi
}
if [[ -z "${VIGIE_TEST_POSTGRES_URL:-}" ]]; then
  trap stop_postgres EXIT
  start_postgres || echo "tests/run.sh: no shared PostgreSQL (see ${pg_dir:-?}): tests start their own" >&2
fi
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
