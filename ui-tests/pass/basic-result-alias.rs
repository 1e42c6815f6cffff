use memokit::cached;

#[derive(Debug, Clone, PartialEq)]
pub struct AppError(String);

/// A crate-local `Result` alias, as many crates define.
pub type Result<T> = std::result::Result<T, AppError>;

#[cached]
fn load(id: u32) -> Result<String> {
    if id == 0 {
        return Err(AppError("missing".into()));
    }
    Ok(format!("row {id}"))
}

#[cached]
fn load_io(path: &str) -> std::io::Result<usize> {
    Ok(path.len())
}

fn main() {
    assert_eq!(load(1), Ok("row 1".to_string()));
    assert!(load(0).is_err());
    assert!(load(0).is_err());
    // Only `Ok` is cached, even through the alias.
    assert_eq!(LOAD_MEMO.len(), 1);
    assert_eq!(load_io("abc").unwrap(), 3);
}
