#!/usr/bin/env bash
# Builds examples/chat_stream.cpp and runs it: a streaming chat completion printed token by
# token. Without ARK_API_KEY it talks to a mock of the Ark API that it starts itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${LEASH_BUILD_DIR:-build-example}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLEASH_BUILD_TESTS=OFF -DLEASH_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j 2 --target chat_stream
exec "$build/examples/chat_stream" "$@"
