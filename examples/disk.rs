//! A memoized function whose cache survives restarts: the first run computes, every later run
//! (within the TTL) starts warm and answers from the file.
//!
//! Run with `cargo run --example disk --features disk` twice; delete
//! `target/memokit-examples/slow-squares.redb` to start cold again.

use std::time::{Duration, Instant};

#[memokit::cached(backend = disk, path = "target/memokit-examples/slow-squares.redb", ttl = "1h")]
fn slow_square(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(100));
    x * x
}

fn main() {
    let started = Instant::now();
    let sum: u64 = (1..=10).map(slow_square).sum();
    let stats = SLOW_SQUARE_MEMO.stats();
    println!(
        "sum of squares {sum} in {:?}: {} from the file, {} computed{}",
        started.elapsed(),
        stats.hits,
        stats.misses,
        if stats.misses == 0 {
            " (a warm start)"
        } else {
            "; run again to start warm"
        }
    );
}
