#[derive(memokit::Cache)]
#[cache(key = u64, value = String, weigher = |_k, v| v.len() as u64)]
pub struct Users;

fn main() {}
