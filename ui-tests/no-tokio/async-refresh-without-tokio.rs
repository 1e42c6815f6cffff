// Built without memokit's `tokio` feature (`cargo test -p memokit --test ui`).
use memokit::cached;

#[cached(ttl = "1h", refresh = "5m")]
async fn rate(currency: &str) -> u32 {
    currency.len() as u32
}

fn main() {}
