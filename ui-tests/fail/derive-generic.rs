#[derive(memokit::Cache)]
#[cache(key = u64, value = T)]
pub struct Users<T>(std::marker::PhantomData<T>);

fn main() {}
