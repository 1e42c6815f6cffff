//! Serves memokit's metrics to Prometheus while a few caches work.
//!
//! ```text
//! cargo run --example prometheus --features metrics -- [PORT]
//! curl http://127.0.0.1:PORT/metrics
//! ```
//!
//! The port comes from the first argument, else `MEMOKIT_METRICS_PORT`, else any free one; the
//! address is printed on start. The program stops by itself after `MEMOKIT_EXAMPLE_SECONDS`
//! (default 60). Three caches show the three kinds of series: a memoized lookup bounded below its
//! working set (hits, misses, size evictions), a fallible loader (loads that are not cached), and
//! a short TTL (expiries).

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use memokit::{Cache, cached, telemetry};
use metrics_exporter_prometheus::PrometheusBuilder;

/// A profile lookup; 100 entries for 400 users, so the cold ones are evicted.
#[cached(capacity = 100, name = "profiles")]
fn profile(user: u64) -> String {
    format!("user #{user}")
}

/// A permission check that fails for some users; failures are returned, never cached.
#[cached(name = "permissions")]
fn permissions(user: u64) -> Result<u8, String> {
    if user.is_multiple_of(7) {
        Err(format!("user #{user} is locked"))
    } else {
        Ok((user % 4) as u8)
    }
}

fn port() -> Result<u16, Box<dyn Error>> {
    let given = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("MEMOKIT_METRICS_PORT").ok());
    match given {
        Some(port) => port
            .parse()
            .map_err(|e| format!("port `{port}` is not a port number: {e}").into()),
        // Binding port 0 lets the OS pick a free port; release it for the exporter.
        None => Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port()),
    }
}

fn seconds() -> Result<u64, Box<dyn Error>> {
    match std::env::var("MEMOKIT_EXAMPLE_SECONDS") {
        Ok(s) => s
            .parse()
            .map_err(|e| format!("MEMOKIT_EXAMPLE_SECONDS `{s}` is not a number: {e}").into()),
        Err(_) => Ok(60),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port()?));
    // The recorder first, so the bridge's metric descriptions reach it.
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()?;
    telemetry::metrics::install();
    println!("serving http://{addr}/metrics");

    let sessions: Cache<u64, u64> = Cache::builder("sessions")
        .ttl(Duration::from_millis(500))
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds()?);
    let mut round = 0u64;
    while Instant::now() < deadline {
        for i in 0..200u64 {
            // Skewed: low ids come up far more often than high ones.
            let user = (i * i + round) % 400 / (1 + i % 4);
            let _ = profile(user);
            let _ = permissions(user);
            sessions.get_or_insert_with(user % 50, || round)?;
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "done after {round} rounds: profiles hit ratio {:.2}",
        PROFILE_MEMO.stats().hit_ratio()
    );
    Ok(())
}
