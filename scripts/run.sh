#!/usr/bin/env bash
# Sets everything up, builds tally, and runs it with its embedded defaults
# (data in ./tally-data unless --data-dir or TALLY_DATA_DIR say otherwise).
#   scripts/run.sh [tally arguments...]     default: --help
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release tally >/dev/null
if (($# == 0)); then set -- --help; fi
exec "$root/build/release/src/cli/tally" "$@"
