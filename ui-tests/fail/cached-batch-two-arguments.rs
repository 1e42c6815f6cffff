use memokit::cached;

#[cached(batch)]
fn users(ids: &[u64], verbose: bool) -> std::collections::HashMap<u64, String> {
    ids.iter().map(|id| (*id, format!("{id} {verbose}"))).collect()
}

fn main() {}
