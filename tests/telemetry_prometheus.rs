//! End to end: `metrics-exporter-prometheus` serves the bridge's metrics on a loopback port, a
//! scrape over HTTP returns them, and the counters and gauges agree with `stats()` with nobody
//! calling `publish()`: the bridge's sampler keeps them current.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use memokit::telemetry::{self, names};
use memokit::{Cache, cached};
use metrics_exporter_prometheus::PrometheusBuilder;

#[cached(capacity = 2, name = "prom-square")]
fn square(x: u64) -> u64 {
    x * x
}

/// GETs `/metrics` and returns the samples as `series -> value`, where a series is the metric
/// name with its labels exactly as rendered (`name{cache="x",result="hit"}`).
fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_scrape_agrees_with_stats() {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let (recorder, exporter) = PrometheusBuilder::new()
        .with_http_listener(addr)
        .build()
        .unwrap();
    // The exporter serves from the runtime's worker; it stops when the runtime does.
    tokio::spawn(exporter);
    metrics::set_global_recorder(recorder).unwrap();
    // Ticks short enough for a test; the defaults are a second and a minute.
    telemetry::metrics::set_intervals(Duration::from_millis(20), Duration::from_millis(20));
    telemetry::metrics::install();

    let sessions: Cache<u32, String> = Cache::builder("prom-sessions").build().unwrap();
    for x in [1, 2, 1, 3, 1, 2, 4] {
        square(x);
    }
    sessions.insert(1, "ada".into()).unwrap();
    sessions.get(&1).unwrap();
    sessions.get(&2).unwrap();

    let counter = |name: &str, cache: &str, label: &str, value: &str| {
        format!("{name}{{cache=\"{cache}\",{label}=\"{value}\"}}")
    };
    let plain = |name: &str, cache: &str| format!("{name}{{cache=\"{cache}\"}}");

    let square = SQUARE_MEMO.stats();
    assert!(square.hits > 0 && square.misses > 0 && square.evicted > 0);
    let session = sessions.stats();
    let expected = [
        (
            counter(names::REQUESTS, "prom-square", "result", "hit"),
            square.hits,
        ),
        (
            counter(names::REQUESTS, "prom-square", "result", "miss"),
            square.misses,
        ),
        (
            counter(names::LOADS, "prom-square", "outcome", "ok"),
            square.loads,
        ),
        (
            counter(names::EVICTIONS, "prom-square", "cause", "size"),
            square.evicted,
        ),
        (
            plain(&format!("{}_count", names::LOAD_DURATION), "prom-square"),
            square.loads,
        ),
        (plain(names::ENTRIES, "prom-square"), square.entries),
        (
            counter(names::REQUESTS, "prom-sessions", "result", "hit"),
            session.hits,
        ),
        (
            counter(names::REQUESTS, "prom-sessions", "result", "miss"),
            session.misses,
        ),
        (plain(names::WEIGHT, "prom-sessions"), session.weight),
    ];
    // Scrape until the sampler has published everything, as a Prometheus server would.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let samples = tokio::task::spawn_blocking(move || scrape(addr))
            .await
            .unwrap();
        let missing: Vec<_> = expected
            .iter()
            .filter(|(series, want)| samples.get(series).copied() != Some(*want as f64))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never published: {missing:?} in {samples:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
