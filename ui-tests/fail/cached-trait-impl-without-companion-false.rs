use memokit::cached;

// A trait impl can't hold the companion constant: `companion = false` is required there.
trait Shape {
    fn area(&self) -> u32;
}

struct Square;

impl Shape for Square {
    #[cached]
    fn area(&self) -> u32 {
        4
    }
}

fn main() {}
