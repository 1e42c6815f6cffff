use memokit::cached;

// Every mistake in the new options is reported in one compile.
#[cached(key = a.len(), unless = 3, tti = "5", weigher = |_: &usize, _: &usize| 1)]
fn f(a: &str) -> usize {
    a.len()
}

fn main() {}
