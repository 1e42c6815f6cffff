use memokit::cached;

#[cached(batch)]
fn user(id: u64) -> std::collections::HashMap<u64, String> {
    [(id, id.to_string())].into()
}

fn main() {}
