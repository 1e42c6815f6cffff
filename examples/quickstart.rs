//! memokit in one minute: memoize a slow function (sync and async), call it repeatedly, and
//! watch the timings and the cache's stats.
//!
//! Run with `cargo run --example quickstart`.

use std::thread;
use std::time::{Duration, Instant};

use memokit::cached;

/// Pretends to be an expensive computation: 200 ms per call.
#[cached(ttl = "10m", capacity = 1_000)]
fn slow_square(n: u64) -> u64 {
    thread::sleep(Duration::from_millis(200));
    n * n
}

/// Pretends to be a slow lookup that can fail: only `Ok` results are cached.
#[cached(ttl = "1m")]
async fn fetch_greeting(name: &str) -> Result<String, String> {
    tokio::time::sleep(Duration::from_millis(150)).await;
    if name.is_empty() {
        return Err("no name given".to_string());
    }
    Ok(format!("hello, {name}"))
}

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    println!("  {label:<34} took {:>9.3?}", start.elapsed());
    value
}

fn main() {
    println!("sync: #[cached(ttl = \"10m\", capacity = 1_000)] fn slow_square(n: u64) -> u64");
    for n in [3, 3, 4, 3, 4] {
        let v = timed(&format!("slow_square({n})"), || slow_square(n));
        assert_eq!(v, n * n);
    }
    let stats = SLOW_SQUARE_MEMO.stats();
    println!(
        "  stats: {} hits, {} misses, {} entries, hit ratio {:.0}%\n",
        stats.hits,
        stats.misses,
        stats.entries,
        stats.hit_ratio() * 100.0
    );

    println!(
        "async: #[cached(ttl = \"1m\")] async fn fetch_greeting(name: &str) -> Result<String, String>"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        for name in ["ada", "ada", "", "", "ada"] {
            let start = Instant::now();
            let result = fetch_greeting(name).await;
            println!(
                "  fetch_greeting({name:?}) = {result:?} took {:>9.3?}",
                start.elapsed()
            );
        }
    });
    let stats = FETCH_GREETING_MEMO.stats();
    println!(
        "  stats: {} hits, {} misses, {} entries (errors are returned, never cached)",
        stats.hits, stats.misses, stats.entries
    );
}
