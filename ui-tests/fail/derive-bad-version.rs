#[derive(memokit::Cache)]
#[cache(key = u64, value = String, version = 1.5)]
pub struct Users;

fn main() {}
