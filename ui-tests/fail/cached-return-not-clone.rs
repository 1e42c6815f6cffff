use memokit::cached;

struct Report {
    lines: Vec<String>,
}

#[cached]
fn report(day: u32) -> Report {
    Report {
        lines: vec![day.to_string()],
    }
}

fn main() {
    let _ = report(1).lines;
}
