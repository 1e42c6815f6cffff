#[memokit::cached(sandbox = "strict")]
fn strict(x: u32) -> u32 {
    x
}

fn main() {}
