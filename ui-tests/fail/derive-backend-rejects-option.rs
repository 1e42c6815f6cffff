// Without a `config` function nothing can change these before the cache is built.
#[derive(memokit::Cache)]
#[cache(key = u32, value = u32, backend = redis, capacity = 1_000)]
struct Bounded;

fn main() {}
