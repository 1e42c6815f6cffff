#[derive(memokit::Cache)]
#[cache(name = "users", ttl = "5m")]
pub struct Users;

#[derive(memokit::Cache)]
#[cache(key = u64)]
pub struct NoValue;

#[derive(memokit::Cache)]
pub struct NoAttribute;

fn main() {}
