#!/usr/bin/env bash
# Sets everything up, builds tally, and runs the HTTP service with its
# embedded defaults: http://127.0.0.1:8787, data in ./tally-data (unless
# --data-dir or TALLY_DATA_DIR say otherwise), the default meters and tiers.
# On first start the admin key is written to ./tally-data/admin.key.
#   scripts/run.sh                      tally serve
#   scripts/run.sh [tally arguments...] any other tally command, e.g. --help
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release tally >/dev/null
if (($# == 0)); then set -- serve; fi
exec "$root/build/release/src/cli/tally" "$@"
