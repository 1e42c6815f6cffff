use memokit::cached;

#[cached(tti = "5 fortnights")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
