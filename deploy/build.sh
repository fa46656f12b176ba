#!/usr/bin/env bash
# Configures and builds Vigie into BUILD_DIR (default: build/), and fetches
# the dashboard's npm dependencies. Extra arguments go to cmake's configure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}

if [[ -f "$root/dashboards/package-lock.json" && ! -d "$root/dashboards/node_modules" ]]; then
  (cd "$root/dashboards" && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "vigie: npm unavailable: the dashboard will show tables without charts" >&2
fi
cmake -S "$root" -B "$build_dir" -G Ninja "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
