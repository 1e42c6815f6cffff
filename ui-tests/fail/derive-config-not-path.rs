use memokit::{ConfigError, Settings};

fn users_config(_: &mut Settings<u64, String>) -> Result<(), ConfigError> {
    Ok(())
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, config = "users_config")]
pub struct Quoted;

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, config = users_config())]
pub struct Called;

fn main() {}
