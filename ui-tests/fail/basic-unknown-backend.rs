use memokit::cached;

#[cached(backend = memcached)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
