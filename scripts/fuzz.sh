#!/usr/bin/env bash
# Runs every fuzz target in tests/fuzz for longer than CI does.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]     (default 3600, every target)
#
# Targets: response_parser sse_decoder url headers transport.
# Builds the targets with clang (libFuzzer, ASan, UBSan) in build-fuzz/ (or $LEASH_FUZZ_DIR),
# then runs them one after another, starting from the seed corpora in tests/fuzz/corpus and
# keeping what they find in build-fuzz/tests/fuzz/corpus/<name>. A crash leaves its input as
# build-fuzz/crash-* and stops the script with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
seconds=${1:-3600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(response_parser sse_decoder url headers transport)
dir=$(realpath -m "${LEASH_FUZZ_DIR:-build-fuzz}")

missing=()
command -v clang++ >/dev/null 2>&1 || missing+=(clang)
ls /usr/lib/llvm-14/lib/clang/14*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
[ -e /usr/include/asio.hpp ] || missing+=(libasio-dev)
[ -e /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
[ -e /usr/share/llhttp/llhttp.c ] || missing+=(node-llhttp)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DLEASH_FUZZ=ON \
      -DLEASH_BUILD_TESTS=OFF -DLEASH_BUILD_EXAMPLES=OFF -DLEASH_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j 2
for name in "${targets[@]}"; do
    work="$dir/tests/fuzz/corpus/$name"
    mkdir -p "$work"
    echo "== fuzz_$name for ${seconds}s" >&2
    (cd "$dir" && "tests/fuzz/fuzz_$name" -max_total_time="$seconds" -max_len=4096 -timeout=60 \
        -print_final_stats=1 "tests/fuzz/corpus/$name" "$repo/tests/fuzz/corpus/$name") 2>&1 \
        | grep -E "^(stat::number_of_executed_units|stat::new_units_added|Done|==[0-9]+== ERROR|.*oracle failed)" || true
    if ls "$dir"/crash-* >/dev/null 2>&1; then
        echo "fuzz_$name found a crash: $(ls "$dir"/crash-*)" >&2
        exit 1
    fi
done
