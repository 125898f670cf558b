#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: every test in a release
# build (unit tests, the CLI, crash and HTTP integration tests against the real
# binary), then the engine, core, store and server tests again under
# ThreadSanitizer and under AddressSanitizer + UndefinedBehaviorSanitizer, and
# finally the libFuzzer targets for a bounded time.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    the release build only
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "== release build and tests"
scripts/build.sh release
(cd build/release && ctest -j2 --output-on-failure --timeout 600)

if [[ "${1:-}" == "--quick" ]]; then exit 0; fi

sanitized_labels='engine|core|store|server'
echo "== ThreadSanitizer: $sanitized_labels tests"
scripts/build.sh tsan
# detect_deadlocks=0: a batch holds all 64 engine stripes at once (taken in
# index order, so no cycle is possible), more than TSan's deadlock detector
# can track; races are still detected.
(cd build/tsan && TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=0" \
  ctest -j2 --output-on-failure -L "$sanitized_labels" --timeout 900)
# The HTTP server under TSan: the integration tests start the TSan-built
# binary, which exits (failing the test) on the first race it sees.
echo "== ThreadSanitizer: the HTTP integration tests against the TSan-built server"
(cd build/tsan && TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=0" \
  ctest -j2 --output-on-failure -R '^http_' --timeout 900)

echo "== AddressSanitizer + UBSan: $sanitized_labels tests"
scripts/build.sh asan
(cd build/asan && ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" \
  ctest -j2 --output-on-failure -L "$sanitized_labels" --timeout 900)
echo "== AddressSanitizer + UBSan: the HTTP integration tests against the ASan-built server"
(cd build/asan && ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" \
  ctest -j2 --output-on-failure -R '^http_' --timeout 900)

echo "== libFuzzer: request decoding (${TALLY_FUZZ_SECONDS:-30} s per target)"
scripts/fuzz.sh "${TALLY_FUZZ_SECONDS:-30}"
