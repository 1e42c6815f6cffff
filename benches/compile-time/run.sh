#!/usr/bin/env bash
# Compile time of memoized functions: memokit's `#[cached]` against the `cached` crate's
# `#[cached]`, on identical functions, in generated crates in a temporary directory.
#
# Three measurements, each the median of RUNS rebuilds, interleaved so that load from elsewhere
# on the machine hits both crates alike:
#
#   build    N functions, `cargo build` (dev) with incremental compilation off: the cost the macro
#            adds to a crate (expansion, type-checking and codegen of what it generates);
#   check    the same crates, `cargo check`: what an editor waits for;
#   release  2 functions, `cargo build --release` with incremental compilation on, after editing
#            one line of a function beside them: the edit-compile loop of a small release crate.
#
# Each crate is built once to compile its dependencies first. Usage:
# benches/compile-time/run.sh [N] [RUNS]
set -euo pipefail

N="${1:-200}"
RUNS="${2:-5}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

generate() { # name, dependency line, attribute, function count
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
        echo "//! $4 memoized functions."
        for i in $(seq 1 "$4"); do
            echo "$3"
            echo "pub fn f$i(a: u64, b: u32) -> u64 { a.wrapping_mul($i).wrapping_add(u64::from(b)) }"
        done
        echo "pub fn edited() -> u64 { 0 }"
    } >"$dir/src/lib.rs"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

timed() { # dir, run number, cargo arguments...: seconds to rebuild after an edit
    local dir="$1" run="$2" start end
    shift 2
    sed -i "s/^pub fn edited() -> u64 { .* }$/pub fn edited() -> u64 { $run }/" "$dir/src/lib.rs"
    start=$(date +%s.%N)
    (cd "$dir" && cargo "$@" --quiet)
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { print e - s }'
}

measure() { # label, crate suffix, incremental (0/1), cargo arguments...
    local label="$1" suffix="$2" incremental="$3" crate
    shift 3
    export CARGO_INCREMENTAL="$incremental"
    for crate in memokit cached; do
        (cd "$WORK/$crate$suffix" && cargo "$@" --quiet)
    done
    for run in $(seq 1 "$RUNS"); do
        for crate in memokit cached; do
            timed "$WORK/$crate$suffix" "$run" "$@" >>"$WORK/$label.$crate.times"
        done
    done
    local m c
    m=$(median <"$WORK/$label.memokit.times")
    c=$(median <"$WORK/$label.cached.times")
    awk -v l="$label" -v m="$m" -v c="$c" \
        'BEGIN { printf "%-36s %9.2f %9.2f %7.2f\n", l, m, c, m / c }'
}

for n in "$N" 2; do
    generate "memokit$n" "memokit = { path = \"$ROOT\" }" "#[memokit::cached]" "$n"
    generate "cached$n" "cached = \"*\"" "#[cached::proc_macro::cached]" "$n"
done
cached_version=$(cd "$WORK/cached$N" && cargo tree --quiet --depth 1 2>/dev/null | grep -o ' cached v[0-9.]*' | sed 's/^ //' | head -1)

echo "memokit against ${cached_version:-cached}, median of $RUNS rebuilds"
printf '%-36s %9s %9s %7s\n' "seconds" "memokit" "cached" "ratio"
measure "build, $N fns (dev, non-incremental)" "$N" 0 build
measure "check, $N fns" "$N" 0 check
measure "release, 2 fns (incremental)" 2 1 build --release
