use memokit::cached;

#[cached(sync = "no")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
