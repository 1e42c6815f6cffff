use memokit::cached;

#[cached(batch)]
fn users(ids: &[u64]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

#[cached(batch)]
fn keyed_by_another_type(ids: &[u64]) -> std::collections::HashMap<String, String> {
    ids.iter().map(|id| (id.to_string(), id.to_string())).collect()
}

fn main() {}
