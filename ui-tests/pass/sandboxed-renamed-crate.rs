// `crate = path` reaches memokit through a re-export, and a local named `__memokit_sandbox` or
// `sandbox` in the body does not collide with the generated guard.
mod reexport {
    pub use memokit as mk;
}

#[memokit::sandboxed(crate = reexport::mk)]
fn run(sandbox: u32) -> u32 {
    let __memokit_sandbox = sandbox + 1;
    assert!(!memokit::context::namespace().is_global());
    __memokit_sandbox
}

#[memokit::cached(sandbox = "optional")]
fn lenient(x: u32) -> u32 {
    x
}

fn main() {
    assert_eq!(run(1), 2);
    assert_eq!(lenient(3), 3);
    assert!(memokit::context::namespace().is_global());
}
