#[derive(memokit::Cache)]
#[cache(key = u64, value = String, ttl = "5m", ttl = "10m")]
pub struct Users;

#[derive(memokit::Cache)]
#[cache(key = u64, value = String)]
#[cache(capacity = 10)]
pub struct Twice;

fn main() {}
