//! An HTTP service whose handlers call memoized async functions cached on Redis, with
//! Prometheus metrics on `/metrics` and tracing on.
//!
//! ```text
//! cargo run --example web_service --features redis,tokio,metrics,tracing
//! curl 127.0.0.1:3000/products/7            # a slow lookup the first time, then a Redis hit
//! curl 127.0.0.1:3000/products/7/price/EUR  # two memoized calls in one handler
//! curl 127.0.0.1:3000/metrics
//! cargo run --example web_service --features redis,tokio,metrics,tracing -- --smoke
//! ```
//!
//! Redis: `REDIS_URL` if set; otherwise the example starts its own `redis-server` from `PATH` on
//! a free loopback port and stops it when the service exits (Ctrl-C shuts down gracefully).
//! `PORT` picks the HTTP port (default 3000; `--smoke` takes any free one). `RUST_LOG=debug`
//! shows memokit's hit and miss events through its tracing bridge.
//!
//! `--smoke` serves, calls each endpoint once over HTTP, checks the answers (a repeated lookup
//! is a hit that does not run the body, `/metrics` counts it) and exits non-zero on any failure.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use memokit::{cached, telemetry};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// The private server, shared with the Redis tests (started from PATH, killed on drop).
#[path = "../tests/support/redis.rs"]
mod redis_server;

/// The Redis URL every cache below connects to, set once in `main` before the first request
/// (a `url` expression is read when its cache is built, at first use).
static REDIS_URL: OnceLock<String> = OnceLock::new();

fn redis_url() -> String {
    REDIS_URL.get().cloned().unwrap_or_default()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Product {
    id: u64,
    name: String,
    price_cents: u64,
}

/// How often the "database" ran: a hit does not run it.
static DB_QUERIES: AtomicU64 = AtomicU64::new(0);

/// A product from a slow database (30 ms). Only `Ok` is cached: an unknown id asks again.
#[cached(backend = redis, url = redis_url(), ttl = "10m", name = "web.products")]
async fn product(id: u64) -> Result<Product, String> {
    DB_QUERIES.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(30)).await;
    if !(1..=1_000).contains(&id) {
        return Err(format!("no product {id}"));
    }
    Ok(Product {
        id,
        name: format!("product #{id}"),
        price_cents: 100 + id * 7 % 900,
    })
}

/// An exchange rate from a slow upstream API (80 ms), fresh for a minute. `None` (an unknown
/// currency) is not cached.
#[cached(backend = redis, url = redis_url(), ttl = "1m", name = "web.rates")]
async fn rate(from: &str, to: &str) -> Option<f64> {
    tokio::time::sleep(Duration::from_millis(80)).await;
    let per_usd = |c: &str| match c {
        "USD" => Some(1.0),
        "EUR" => Some(0.92),
        "GBP" => Some(0.79),
        "JPY" => Some(151.0),
        _ => None,
    };
    Some(per_usd(to)? / per_usd(from)?)
}

/// A handler's failure, as the HTTP status and a one-line body.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

#[tracing::instrument]
async fn get_product(Path(id): Path<u64>) -> Result<Json<Product>, Failure> {
    product(id)
        .await
        .map(Json)
        .map_err(|e| Failure(StatusCode::NOT_FOUND, e))
}

#[derive(Serialize)]
struct Price {
    id: u64,
    currency: String,
    price: f64,
}

#[tracing::instrument]
async fn get_price(Path((id, currency)): Path<(u64, String)>) -> Result<Json<Price>, Failure> {
    let (product, rate) = tokio::join!(product(id), rate("USD", &currency));
    let product = product.map_err(|e| Failure(StatusCode::NOT_FOUND, e))?;
    let rate = rate.ok_or_else(|| {
        Failure(
            StatusCode::BAD_REQUEST,
            format!("unknown currency {currency:?}"),
        )
    })?;
    Ok(Json(Price {
        id,
        price: (product.price_cents as f64 * rate).round() / 100.0,
        currency,
    }))
}

async fn get_metrics(State(prometheus): State<PrometheusHandle>) -> String {
    // The bridge's sampler keeps the counters and gauges current; a scrape only renders.
    prometheus.render()
}

fn app(prometheus: PrometheusHandle) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { "GET /products/{id}, /products/{id}/price/{currency}, /metrics\n" }),
        )
        .route("/products/{id}", get(get_product))
        .route("/products/{id}/price/{currency}", get(get_price))
        .route("/metrics", get(get_metrics))
        .with_state(prometheus)
}

/// One `GET` over a fresh connection: the status code and the body.
async fn fetch(addr: SocketAddr, path: &str) -> Result<(u16, String), Box<dyn Error>> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("a response without headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("a response without a status: {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// Calls every endpoint once and checks what a user would see.
async fn smoke(addr: SocketAddr) -> Result<(), Box<dyn Error>> {
    let expect = |what: &str, ok: bool, got: &str| {
        if ok {
            println!("ok    {what}");
            Ok(())
        } else {
            Err(format!("smoke check failed: {what}; got {got:?}"))
        }
    };
    let queries = DB_QUERIES.load(Ordering::Relaxed);
    let started = Instant::now();
    let (status, first) = fetch(addr, "/products/7").await?;
    let cold = started.elapsed();
    expect("GET /products/7 is 200", status == 200, &first)?;
    let started = Instant::now();
    let (_, second) = fetch(addr, "/products/7").await?;
    let warm = started.elapsed();
    expect(
        "the second GET /products/7 is answered by Redis without querying again",
        second == first && DB_QUERIES.load(Ordering::Relaxed) == queries + 1,
        &second,
    )?;
    println!("      cold {cold:.1?}, warm {warm:.1?}");
    let (status, body) = fetch(addr, "/products/7/price/EUR").await?;
    expect(
        "GET /products/7/price/EUR converts",
        status == 200 && body.contains("\"currency\":\"EUR\""),
        &body,
    )?;
    let (status, body) = fetch(addr, "/products/5000").await?;
    expect("GET /products/5000 is 404", status == 404, &body)?;
    let (status, body) = fetch(addr, "/products/7/price/XYZ").await?;
    expect("an unknown currency is 400", status == 400, &body)?;
    // The bridge's sampler publishes lookup counts every second: wait one tick.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, body) = fetch(addr, "/metrics").await?;
    expect(
        "GET /metrics counts the Redis hit",
        status == 200
            && body.lines().any(|l| {
                l.starts_with("memokit_cache_requests_total")
                    && l.contains("cache=\"web.products\"")
                    && l.contains("result=\"hit\"")
            }),
        &body,
    )?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let smoke_mode = std::env::args().skip(1).any(|a| a == "--smoke");
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt().with_max_level(level).init();
    // The recorder before the bridge, so the bridge's metric descriptions reach it.
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    telemetry::metrics::install();
    telemetry::tracing::install();

    // Kept until the end of `main`: dropping it stops the server we started.
    let mut own_server = None;
    let url = match std::env::var("REDIS_URL") {
        Ok(url) => url,
        Err(_) => {
            let server = redis_server::RedisServer::start()
                .ok_or("set REDIS_URL, or put redis-server on PATH for the example to start")?;
            let url = server.url();
            tracing::info!(%url, pid = server.pid(), "started a private redis-server");
            own_server = Some(server);
            url
        }
    };
    REDIS_URL
        .set(url)
        .map_err(|_| "REDIS_URL was already set")?;

    let port = match std::env::var("PORT") {
        Ok(port) if !smoke_mode => port
            .parse()
            .map_err(|e| format!("PORT `{port}` is not a port number: {e}"))?,
        _ if smoke_mode => 0,
        _ => 3000,
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    tracing::info!("serving http://{addr}/ (Ctrl-C stops)");
    let server = axum::serve(listener, app(prometheus));

    let outcome = if smoke_mode {
        let served = tokio::spawn(server.into_future());
        let checked = smoke(addr).await;
        served.abort();
        checked
    } else {
        server
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(Into::into)
    };
    drop(own_server);
    outcome
}
