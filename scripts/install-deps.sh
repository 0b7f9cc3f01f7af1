#!/usr/bin/env bash
# Installs the system packages leash needs, if any is missing (Debian/Ubuntu, apt-get).
# Usage: scripts/install-deps.sh [--tests]   (--tests adds Catch2 for the test suite)
set -euo pipefail

missing=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_file() { [ -e "$1" ]; }

have_cmd cmake || missing+=(cmake)
have_cmd c++ || missing+=(g++)
have_cmd make || have_cmd ninja || missing+=(make)
have_file /usr/include/asio.hpp || missing+=(libasio-dev)
have_file /usr/include/openssl/ssl.h || missing+=(libssl-dev)
have_file /usr/share/llhttp/llhttp.c || missing+=(node-llhttp)
have_file /usr/include/nlohmann/json.hpp || missing+=(nlohmann-json3-dev)  # the examples' JSON
if [ "${1:-}" = "--tests" ]; then
  have_file /usr/include/catch2/catch.hpp || missing+=(catch2)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if ! have_cmd apt-get; then
  echo "leash needs: ${missing[*]} (Debian/Ubuntu package names); install them and retry." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing ${missing[*]} ..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
