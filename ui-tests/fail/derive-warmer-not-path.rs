fn load_users() -> Result<Vec<(u64, String)>, String> {
    Ok(Vec::new())
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, warmer = "load_users", warm_every = "5m")]
pub struct Quoted;

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, warmer = load_users(), warm_every = "5m")]
pub struct Called;

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, warmer = load_users, warm_every = "5 fortnights")]
pub struct BadInterval;

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, interval = "5m")]
pub struct CachexSpelling;

fn main() {}
