use memokit::cached;

#[cached(unless = |r| true)]
fn touch(id: u32) -> () {
    let _ = id;
}

fn main() {}
