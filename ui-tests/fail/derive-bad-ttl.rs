#[derive(memokit::Cache)]
#[cache(key = u64, value = String, ttl = "5 fortnights", tti = 30, capacity = 0)]
pub struct Users;

fn main() {}
