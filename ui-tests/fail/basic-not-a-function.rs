use memokit::cached;

#[cached(ttl = "1m")]
struct Users;

fn main() {}
