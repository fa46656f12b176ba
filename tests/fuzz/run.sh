#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (libFuzzer + ASan + UBSan, the whole
# tree instrumented) in build/fuzz and runs each one for its fixed number of
# runs from its seed corpus (ctest -L fuzz). A finding fails the run; its input
# is saved under build/fuzz/tests/fuzz/artifacts/<target>/.
# Environment: FUZZ_BUILD_DIR (default build/fuzz), JOBS (default nproc).
# Extra arguments go to ctest, e.g. `-R sigma` or `-j2`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${FUZZ_BUILD_DIR:-$root/build/fuzz}

# clang's fuzzer and sanitizer runtimes (libclang-rt-14-dev) are test dependencies.
"$root/deploy/install-deps.sh" --test

# Configuring with tests on also configures the GoogleTest targets; only the
# fuzz targets (and the libraries they test) are built.
CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -G Ninja \
  -DVIGIE_FUZZ=ON -DVIGIE_BUILD_TESTS=ON >/dev/null
cmake --build "$build_dir" --target fuzz -j"${JOBS:-$(nproc)}"
cd "$build_dir"
ctest -L fuzz --output-on-failure "$@"
