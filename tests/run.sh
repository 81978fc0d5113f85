#!/usr/bin/env bash
# Runs the whole test suite, doing all the set-up first (see .ci/setup.sh).
#   tests/run.sh               the suite on the normal build
#   tests/run.sh --sanitize    the suite under AddressSanitizer and UBSan (build-sanitize/)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--sanitize" ]; then
  export REPRISE_SANITIZE=address,undefined
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
build=$("$here/.ci/setup.sh")
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 600
