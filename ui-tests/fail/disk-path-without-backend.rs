use memokit::cached;

#[cached(path = "target/caches/lookup.redb")]
fn lookup(id: u64) -> u64 {
    id
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = u64, path = "target/caches/users.redb")]
struct Users;

fn main() {}
