use memokit::cached;

#[cached]
fn first(items: &[String]) -> &str {
    &items[0]
}

fn main() {}
