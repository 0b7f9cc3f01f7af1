#!/usr/bin/env bash
# Builds examples/get.cpp and runs it against a local HTTP server that it starts itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${LEASH_BUILD_DIR:-build-example}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLEASH_BUILD_TESTS=OFF -DLEASH_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j 2 --target get leash-serve-and-run
exec "$build/examples/leash-serve-and-run" "$build/examples/get" "{url}"
