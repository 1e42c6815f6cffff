use memokit::cached;

#[cached]
fn label(id: u32) -> impl std::fmt::Display {
    id
}

fn main() {}
