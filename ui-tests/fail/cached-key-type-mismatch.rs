use memokit::cached;

// The key expression must have the declared type.
#[cached(key: u64 = name.len())]
fn greet(name: &str) -> String {
    format!("hello {name}")
}

fn main() {}
