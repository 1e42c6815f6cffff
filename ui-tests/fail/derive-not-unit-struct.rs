#[derive(memokit::Cache)]
#[cache(key = u64, value = String)]
pub struct Users {
    cache: Vec<String>,
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = String)]
pub struct Tuple(u8);

fn main() {}
