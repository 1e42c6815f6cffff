fn users_config() -> Result<(), String> {
    Ok(())
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, config = users_config)]
pub struct Users;

fn main() {}
