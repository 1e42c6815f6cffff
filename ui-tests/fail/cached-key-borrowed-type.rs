use memokit::cached;

#[cached(key: &str = name)]
fn greet(name: &str) -> String {
    format!("hello {name}")
}

fn main() {}
