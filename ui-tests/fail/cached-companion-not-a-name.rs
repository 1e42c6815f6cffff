use memokit::cached;

#[cached(companion = "FAST")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
