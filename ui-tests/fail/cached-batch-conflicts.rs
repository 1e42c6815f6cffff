use memokit::cached;

#[cached(batch, key = id, refresh = "10s", ttl = "1m", sync = false)]
fn users(ids: &[u64]) -> std::collections::HashMap<u64, String> {
    ids.iter().map(|id| (*id, id.to_string())).collect()
}

fn main() {}
