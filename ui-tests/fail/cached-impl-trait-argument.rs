use memokit::cached;

#[cached]
fn label(id: u32, item: impl std::fmt::Display) -> String {
    format!("{id}{item}")
}

fn main() {}
