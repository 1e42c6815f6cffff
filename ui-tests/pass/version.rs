//! `version` as a literal and as a constant expression, on a memoized function and a module.

const SCHEMA: u32 = 3;

#[memokit::cached(version = 2)]
fn literal(x: u32) -> u32 {
    x
}

#[memokit::cached(version = SCHEMA + 1)]
fn expression(x: u32) -> u32 {
    x
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, version = SCHEMA)]
pub struct Users;

fn main() {
    assert_eq!(literal(1), 1);
    assert_eq!(expression(1), 1);
    assert_eq!(LITERAL_MEMO.cache().unwrap().config().version(), 2);
    assert_eq!(EXPRESSION_MEMO.cache().unwrap().config().version(), 4);
    assert_eq!(Users::cache().unwrap().config().version(), 3);
}
