use memokit::cached;

#[cached(tll = "1m")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
