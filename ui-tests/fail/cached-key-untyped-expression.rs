use memokit::cached;

#[cached(key = name.to_lowercase())]
fn greet(name: &str) -> String {
    format!("hello {name}")
}

fn main() {}
