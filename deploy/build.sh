#!/usr/bin/env bash
# Configures and builds Vigie into BUILD_DIR (default: build/), and fetches
# the dashboard's npm dependencies. Extra arguments go to cmake's configure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}

# VIGIE_STRICT=1 (the test suite): a failed npm install is an error, since the
# browser tests need playwright-core; otherwise the dashboard loses its chart only.
dash="$root/dashboards"
if [[ ! -f "$dash/node_modules/.package-lock.json" ||
      "$dash/package-lock.json" -nt "$dash/node_modules/.package-lock.json" ]]; then
  if ! (cd "$dash" && npm ci --no-audit --no-fund --loglevel=error); then
    [[ "${VIGIE_STRICT:-0}" == 1 ]] && { echo "vigie: npm ci failed in dashboards/" >&2; exit 1; }
    echo "vigie: npm unavailable: the dashboard will show tables without charts" >&2
  fi
fi
cmake -S "$root" -B "$build_dir" -G Ninja "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
