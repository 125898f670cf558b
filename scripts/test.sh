#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: every test in a release
# build, then the engine, core and store tests again under ThreadSanitizer and
# under AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    the release build only
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "== release build and tests"
scripts/build.sh release
(cd build/release && ctest -j2 --output-on-failure --timeout 600)

if [[ "${1:-}" == "--quick" ]]; then exit 0; fi

sanitized_labels='engine|core|store'
echo "== ThreadSanitizer: $sanitized_labels tests"
scripts/build.sh tsan
# detect_deadlocks=0: a batch holds all 64 engine stripes at once (taken in
# index order, so no cycle is possible), more than TSan's deadlock detector
# can track; races are still detected.
(cd build/tsan && TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=0" \
  ctest -j2 --output-on-failure -L "$sanitized_labels" --timeout 900)

echo "== AddressSanitizer + UBSan: $sanitized_labels tests"
scripts/build.sh asan
(cd build/asan && ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" \
  ctest -j2 --output-on-failure -L "$sanitized_labels" --timeout 900)
