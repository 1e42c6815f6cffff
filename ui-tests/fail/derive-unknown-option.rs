#[derive(memokit::Cache)]
#[cache(key = u64, value = String, tll = "5m", adapter = redis, sandboxed = true)]
pub struct Users;

fn main() {
    // The module's functions exist despite the errors, so calls add no errors of their own.
    let _ = Users::get(&1);
}
