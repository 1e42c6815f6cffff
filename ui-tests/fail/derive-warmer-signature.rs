/// Entries of the wrong value type.
fn load_ids() -> Result<Vec<(u64, u64)>, String> {
    Ok(Vec::new())
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, warmer = load_ids, warm_every = "5m")]
pub struct Users;

fn main() {}
