#[derive(memokit::Cache)]
#[cache(key = u64, value = String, backend = postgres, name = "")]
pub struct Users;

fn main() {}
