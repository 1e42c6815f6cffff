use memokit::cached;

// The `cached` crate's `convert` becomes a typed `key`.
#[cached(convert = r#"{ format!("{a}") }"#)]
fn f(a: u32) -> u32 {
    a
}

fn main() {}
