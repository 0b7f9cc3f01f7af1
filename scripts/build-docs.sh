#!/usr/bin/env bash
# Builds the API reference (Doxygen, docs/Doxyfile.in) from the public headers, with warnings
# as errors: an undocumented public declaration, or a doc comment Doxygen cannot make sense
# of, fails this script. Output: $LEASH_DOCS_BUILD_DIR/docs/html/index.html (build-docs/ by
# default). Needs doxygen (Debian: apt-get install doxygen) besides leash's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v doxygen >/dev/null || { echo "build-docs.sh: doxygen not found (apt-get install doxygen)" >&2; exit 1; }
build=${LEASH_DOCS_BUILD_DIR:-build-docs}
cmake -S . -B "$build" -DLEASH_BUILD_TESTS=OFF -DLEASH_BUILD_EXAMPLES=OFF -DLEASH_BUILD_BENCH=OFF
cmake --build "$build" --target leash_docs
echo "API reference: $build/docs/html/index.html"
