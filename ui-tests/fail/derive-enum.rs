#[derive(memokit::Cache)]
#[cache(key = u64, value = String)]
pub enum Users {
    Admins,
    Guests,
}

fn main() {}
