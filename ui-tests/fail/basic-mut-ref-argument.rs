use memokit::cached;

#[cached]
fn push(items: &mut Vec<u8>, item: u8) -> usize {
    items.push(item);
    items.len()
}

fn main() {}
