#!/usr/bin/env bash
# Instructions per hit under callgrind, for `Cache::get` (without and with a TTL) and a
# `#[cached]` hit: each kind runs at two hit counts and the difference in instructions is divided
# by the difference in hits, so process start-up and the warm-up writes cancel out. Hash seeds differ per process, which moves
# the figure by a few instructions, so each kind is measured RUNS times (default 5) and the
# median printed with the range (KINDS="get macro" for some). Needs valgrind.
#
#   bash benches/callgrind.sh            # RUNS=9 bash benches/callgrind.sh for a tighter median
#   FEATURES=tiered,disk KINDS="get tiered-get" bash benches/callgrind.sh   # a tiered first-layer hit beside a memory hit
#   SMALL=200000 LARGE=2000000 KINDS=insert-evict bash benches/callgrind.sh   # more operations where runs vary
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p memokit-bench --bin hit_instructions ${FEATURES:+--features "$FEATURES"}
bin="${CARGO_TARGET_DIR:-target}/release/hit_instructions"
runs="${RUNS:-5}"
small=${SMALL:-200000}
large=${LARGE:-400000}
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for kind in ${KINDS:-get get-ttl macro get-many}; do
    per_hit=()
    for _ in $(seq "$runs"); do
        a=$(instructions "$kind" "$small")
        b=$(instructions "$kind" "$large")
        per_hit+=($(( (b - a) / (large - small) )))
    done
    sorted=($(printf '%s\n' "${per_hit[@]}" | sort -n))
    echo "$kind: median ${sorted[$(( runs / 2 ))]} instructions per hit (${sorted[0]}-${sorted[$(( runs - 1 ))]} over $runs runs)"
done
