use memokit::cached;

#[cached(ttl_from = |v| std::time::Duration::from_secs(1))]
fn touch(id: u32) -> () {
    let _ = id;
}

fn main() {}
