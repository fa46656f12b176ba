# What tests/run.sh and tests/repeat.sh share (sourced; needs root): how
# ctest runs the suite, and the PostgreSQL cluster for the run.

# ctest runs tests in parallel (CTEST_PARALLEL_LEVEL, default the number of
# cores); tests that must have the machine to themselves carry RUN_SERIAL or a
# RESOURCE_LOCK (tests/CMakeLists.txt).
ctest_args=(--output-on-failure --timeout 600 -j"${CTEST_PARALLEL_LEVEL:-$(nproc)}")

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
