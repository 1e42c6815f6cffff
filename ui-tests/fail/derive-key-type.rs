#[derive(memokit::Cache)]
#[cache(key = "u64", value = String)]
pub struct Quoted;

fn main() {
    let _ = Quoted::get(&1);
}
