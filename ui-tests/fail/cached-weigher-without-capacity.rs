use memokit::cached;

#[cached(weigher = |_: &u32, v: &String| v.len() as u64)]
fn render(x: u32) -> String {
    x.to_string()
}

fn main() {}
