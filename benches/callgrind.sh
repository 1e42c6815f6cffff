#!/usr/bin/env bash
# Instructions per hit under callgrind, for `Cache::get` and a `#[cached]` hit: each kind runs at
# two hit counts and the difference in instructions is divided by the difference in hits, so
# process start-up and the warm-up writes cancel out. Needs valgrind.
#
#   bash benches/callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p memokit-bench --bin hit_instructions
bin=target/release/hit_instructions
small=200000
large=400000
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for kind in get macro; do
    a=$(instructions "$kind" "$small")
    b=$(instructions "$kind" "$large")
    echo "$kind: $(( (b - a) / (large - small) )) instructions per hit"
done
