#!/usr/bin/env bash
# Compile time of 200 memoized functions: memokit's `#[cached]` against the `cached` crate's
# `#[cached]`, on identical functions, in two generated crates in a temporary directory.
#
# Each crate is built once to compile its dependencies, then its own source is touched and rebuilt
# RUNS times; the median of those rebuilds is the cost the macro adds to a crate (expansion,
# type-checking and codegen of what it generates). Incremental compilation is off, or a rebuild
# of unchanged source would reuse its earlier work. Usage: benches/compile-time/run.sh [N] [RUNS]
set -euo pipefail
export CARGO_INCREMENTAL=0

N="${1:-200}"
RUNS="${2:-3}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

generate() { # name, dependency line, attribute
    local dir="$WORK/$1"
    mkdir -p "$dir/src"
    cat >"$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$2

[workspace]
TOML
    {
        echo "//! $N memoized functions."
        for i in $(seq 1 "$N"); do
            echo "$3"
            echo "pub fn f$i(a: u64, b: u32) -> u64 { a.wrapping_mul($i).wrapping_add(u64::from(b)) }"
        done
    } >"$dir/src/lib.rs"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

rebuild() { # name: seconds to rebuild the crate's own source
    local dir="$WORK/$1" start end
    touch "$dir/src/lib.rs"
    start=$(date +%s.%N)
    (cd "$dir" && cargo build --quiet)
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { print e - s }'
}

generate with_memokit "memokit = { path = \"$ROOT\" }" "#[memokit::cached]"
generate with_cached "cached = \"*\"" "#[cached::proc_macro::cached]"

for crate in with_memokit with_cached; do
    (cd "$WORK/$crate" && cargo build --quiet) # dependencies, and a first build
done
# Interleaved, so that load from elsewhere on the machine hits both alike.
for _ in $(seq 1 "$RUNS"); do
    rebuild with_memokit >>"$WORK/memokit.times"
    rebuild with_cached >>"$WORK/cached.times"
done
memokit_s=$(median <"$WORK/memokit.times")
cached_s=$(median <"$WORK/cached.times")
cached_version=$(cd "$WORK/with_cached" && cargo tree --quiet --depth 1 2>/dev/null | grep -o ' cached v[0-9.]*' | sed 's/^ //' | head -1)

printf '%-32s %10s\n' "crate ($N memoized fns)" "rebuild s"
printf '%-32s %10.2f\n' "memokit #[cached]" "$memokit_s"
printf '%-32s %10.2f\n' "${cached_version:-cached} #[cached]" "$cached_s"
awk -v m="$memokit_s" -v c="$cached_s" 'BEGIN { printf "ratio memokit / cached: %.2f\n", m / c }'
