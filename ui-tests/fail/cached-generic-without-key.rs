use memokit::cached;

// A generic function has one static cache for every instantiation: it needs a concrete `key`.
#[cached]
fn show<T: std::fmt::Display>(item: T) -> String {
    item.to_string()
}

fn main() {}
