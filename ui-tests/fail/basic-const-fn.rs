use memokit::cached;

#[cached]
const fn answer() -> u32 {
    42
}

fn main() {}
