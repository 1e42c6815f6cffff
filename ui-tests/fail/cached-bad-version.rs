use memokit::cached;

#[cached(version = "2")]
fn f(x: u32) -> u32 {
    x
}

#[cached(version = -1)]
fn g(x: u32) -> u32 {
    x
}

#[cached(version = 4_294_967_296)]
fn h(x: u32) -> u32 {
    x
}

fn main() {}
