pub struct NotHashable;

#[derive(memokit::Cache)]
#[cache(key = NotHashable, value = String)]
pub struct Users;

fn main() {}
