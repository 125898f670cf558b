#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan) in build/fuzz
# and runs each for a bounded time over a copy of its seed corpus, so the seeds
# in the tree stay as they are. Exits non-zero if any target crashes, leaks,
# hits undefined behaviour or breaks an invariant; the crashing input is kept
# in build/fuzz/crashes/.
#   scripts/fuzz.sh [seconds per target]     default 30
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [seconds per target]" >&2
  exit 2
fi
targets=(event query)
dir=build/fuzz

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/tally-ccache}"
if [[ ! -f "$dir/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTALLY_FUZZ=ON -DTALLY_BUILD_BENCH=OFF >/dev/null
fi
ninja -C "$dir" -j2 "${targets[@]/%/_fuzz}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$dir/crashes"
failed=0
for target in "${targets[@]}"; do
  echo "== ${target}_fuzz for ${seconds}s"
  cp -r "fuzz/corpus/$target" "$work/$target"
  log="$work/$target.log"
  if "$dir/fuzz/${target}_fuzz" "$work/$target" -max_total_time="$seconds" -max_len=65536 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/crashes/${target}-" \
      >"$log" 2>&1; then
    grep -E '^Done [0-9]+ runs|stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
    echo "corpus: $(ls "$work/$target" | wc -l) inputs"
  else
    echo "!! ${target}_fuzz failed; the end of its log:" >&2
    tail -n 60 "$log" >&2
    echo "!! crashing input(s) in $dir/crashes/" >&2
    failed=1
  fi
done
exit "$failed"
