#!/usr/bin/env bash
# clang-tidy (the checks of .clang-tidy, findings are errors) on every
# translation unit of Vigie's own code: the libraries, the daemons and the CLI
# under agents/ cli/ collector/ config/ csirt/ delivery/ protocol/ rules/ (not the tests, not
# generated code). Reads the compile_commands.json of a build: BUILD_DIR
# (default build/test). JOBS sets the parallelism (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build/test}
[[ -f "$build_dir/compile_commands.json" ]] || {
  echo "tests/tidy.sh: no $build_dir/compile_commands.json; build first" >&2
  exit 1
}
exec run-clang-tidy -quiet -p "$build_dir" -j "${JOBS:-$(nproc)}" \
  "^$root/(agents|cli|collector|config|csirt|delivery|protocol|rules)/.*\.cpp$"
