use memokit::cached;

#[cached(cache_err)]
fn find(id: u32) -> Option<u32> {
    Some(id)
}

fn main() {}
