#[memokit::sandboxed]
struct NotAFunction;

#[memokit::sandboxed(isolate = true)]
fn unknown_option() {}

#[memokit::sandboxed]
const fn at_compile_time() {}

fn main() {}
