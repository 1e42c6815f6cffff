use memokit::cached;

#[cached(key: String = format!("{item:?}"))]
fn wrap<T: std::fmt::Debug + Clone>(item: T) -> Vec<T> {
    vec![item]
}

fn main() {}
