#!/usr/bin/env bash
# Builds leash with its tests, examples and load generator, and runs the whole suite.
# Honours CXXFLAGS / CFLAGS / LDFLAGS (read at first configure), LEASH_BUILD_DIR, and
# LEASH_TEST_SEPARATE_COMPILATION=ON (the tests built against leash::leash_compiled).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
build=${LEASH_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
  -DLEASH_TEST_SEPARATE_COMPILATION="${LEASH_TEST_SEPARATE_COMPILATION:-OFF}"
cmake --build "$build" -j 2
ctest --test-dir "$build" --output-on-failure -j 2
