use memokit::cached;

// A background refresh reloads from the arguments alone and stores by the return type's rule, so
// it can't be combined with a custom key or per-result rules.
#[cached(ttl = "10m", refresh = "1m", key = id, unless = |r: &u32| *r == 0)]
fn rate(id: u32, note: &str) -> u32 {
    let _ = note;
    id
}

fn main() {}
