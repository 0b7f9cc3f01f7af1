#!/usr/bin/env bash
# Builds leash with its tests, examples and load generator, and runs the whole suite.
# Honours CXXFLAGS / CFLAGS / LDFLAGS (read at first configure) and LEASH_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
build=${LEASH_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
cmake --build "$build" -j 2
ctest --test-dir "$build" --output-on-failure -j 2
