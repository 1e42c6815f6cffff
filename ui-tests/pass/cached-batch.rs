//! `#[cached(batch)]` with every option that applies, and `fallback`, under `deny(warnings)`.
#![deny(warnings)]

use std::collections::HashMap;

use memokit::cached;

#[cached(batch, ttl = "1m", tti = "30s", capacity = 1_000, name = "users-by-id", companion = USERS)]
fn users(mut ids: Vec<u64>) -> HashMap<u64, String> {
    ids.dedup();
    ids.into_iter().map(|id| (id, id.to_string())).collect()
}

#[cached(ttl = "1m", fallback = "1h")]
fn quote(symbol: &str) -> Result<u64, String> {
    Ok(symbol.len() as u64)
}

struct Repo;

impl Repo {
    #[cached(batch)]
    async fn names(&self, ids: &[u64]) -> Result<HashMap<u64, String>, std::io::Error> {
        Ok(ids.iter().map(|id| (*id, format!("#{id}"))).collect())
    }
}

fn main() {
    assert_eq!(users(vec![1, 1, 2]).len(), 2);
    assert_eq!(USERS.len(), 2);
    let _ = Repo.names(&[1]);
    assert_eq!(quote("AAPL"), Ok(4));
}
