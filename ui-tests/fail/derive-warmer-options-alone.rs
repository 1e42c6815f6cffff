fn load_users() -> Result<Vec<(u64, String)>, String> {
    Ok(Vec::new())
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, warmer = load_users)]
pub struct NoInterval;

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, warm_every = "5m", warm_wait = "2s")]
pub struct NoWarmer;

fn main() {}
