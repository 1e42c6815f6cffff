use memokit::cached;

#[cached(key: T = item.clone())]
fn echo<T: Clone + std::hash::Hash + Eq + Send + Sync + 'static>(item: T) -> usize {
    let _ = item;
    1
}

fn main() {}
