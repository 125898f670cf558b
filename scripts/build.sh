#!/usr/bin/env bash
# Configures and builds one flavour of tally.
#   scripts/build.sh [release|asan|tsan] [ninja targets...]
set -euo pipefail
cd "$(dirname "$0")/.."

flavour="${1:-release}"
shift || true
case "$flavour" in
  release) dir=build/release; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build/asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DTALLY_SANITIZE=address -DTALLY_BUILD_BENCH=OFF) ;;
  tsan) dir=build/tsan; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTALLY_SANITIZE=thread -DTALLY_BUILD_BENCH=OFF) ;;
  *) echo "usage: scripts/build.sh [release|asan|tsan] [targets...]" >&2; exit 2 ;;
esac

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/tally-ccache}"
if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
fi
ninja -C "$dir" -j2 "$@"
