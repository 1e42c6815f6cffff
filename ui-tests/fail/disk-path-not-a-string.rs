use memokit::cached;

#[cached(path = 42)]
fn lookup(id: u64) -> u64 {
    id
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = u64, path = std::path::PathBuf::new())]
struct Users;

fn main() {}
