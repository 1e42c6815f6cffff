//! A proactive warmer: the exchange rates a service needs are loaded before the first request
//! and refreshed every five minutes, so lookups never miss; a failing refresh keeps the rates
//! already there. Shown twice: on a hand-built cache and on a cache module.
//!
//! Run with `cargo run --example warmer`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use memokit::Cache;

/// Pretends to be a call to a rates service; every third call fails.
fn fetch_rates() -> Result<Vec<(String, f64)>, String> {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let call = CALLS.fetch_add(1, Ordering::SeqCst);
    if call % 3 == 2 {
        return Err("rates service unavailable".into());
    }
    let drift = f64::from(call) / 100.0;
    Ok(vec![
        ("usd".into(), 1.08 + drift),
        ("gbp".into(), 0.86 + drift),
        ("jpy".into(), 162.5 + drift),
    ])
}

/// The same warmer on a cache module: the module's first use waits (two seconds at most) for
/// the first run.
#[derive(memokit::Cache)]
#[cache(key = String, value = f64, warmer = fetch_rates, warm_every = "5m", warm_wait = "2s")]
struct Rates;

fn main() -> Result<(), memokit::CacheError> {
    let rates: Cache<String, f64> = Cache::builder("rates")
        .warmer(fetch_rates, Duration::from_secs(300))
        .warm_wait(Duration::from_secs(2))
        .build()?;
    println!("usd at first use: {:?}", rates.get("usd")?);

    // On demand (an admin endpoint, a deploy hook): runs now, after any run in progress.
    println!("warmed {} rates on demand", rates.warm()?);
    match rates.warm() {
        Ok(n) => println!("warmed {n} rates"),
        // The rates already there stay; the failure is counted and emitted as an `error` event.
        Err(e) => println!("{e}; usd is still {:?}", rates.get("usd")?),
    }
    let stats = rates.stats();
    println!("runs: {} ok, {} failed", stats.warms, stats.warm_failures);

    println!("module: jpy = {:?}", Rates::get("jpy")?);
    Ok(())
}
