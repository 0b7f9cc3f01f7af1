#!/usr/bin/env bash
# Checks that the project's Markdown renders as written under CommonMark: no code fence left
# open, no fence-like line that closes nothing, no "# heading" swallowed by a block above it
# (see scripts/check-markdown.js for the rules).
#
#   usage: scripts/check-markdown.sh [FILE...]
#   default: README.md CHANGELOG.md bench/README.md docs/*.md
#
# Needs node and npm (Debian: apt-get install nodejs npm). npm's `commonmark` package is
# installed once into LEASH_COMMONMARK_DIR (default ~/.cache/leash/commonmark), outside the tree.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${LEASH_COMMONMARK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/leash/commonmark}
if [ ! -f "$dir/node_modules/commonmark/package.json" ]; then
  mkdir -p "$dir"
  npm install --no-save --no-audit --no-fund --silent --prefix "$dir" commonmark@0.31 >&2
fi

if [ $# -eq 0 ]; then
  set -- README.md CHANGELOG.md bench/README.md
  for f in docs/*.md; do [ -e "$f" ] && set -- "$@" "$f"; done
fi
COMMONMARK_DIR="$dir" node scripts/check-markdown.js "$@"
