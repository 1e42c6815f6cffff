use memokit::cached;

#[cached(ttl = "1h", refresh = "10m")]
fn greet(name: Option<&str>) -> String {
    format!("{name:?}")
}

fn main() {}
