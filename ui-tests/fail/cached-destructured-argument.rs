use memokit::cached;

#[cached]
fn area((w, h): (u32, u32)) -> u32 {
    w * h
}

fn main() {}
