#[derive(memokit::Cache)]
#[cache(key = u64, value = u64, restore = 42)]
struct Numbers;

#[derive(memokit::Cache)]
#[cache(key = u64, value = u64, restore = "")]
struct Empty;

#[derive(memokit::Cache)]
#[cache(key = u64, value = u64, restore = std::path::PathBuf::from("a"))]
struct Computed;

fn main() {
    // The modules' functions exist despite the errors.
    let _ = Numbers::get(&1);
}
