//! The synchronization primitives of the in-memory backend, in one place so a model checker can
//! swap them in.
//!
//! Normally these are std's atomics, fences, thread-locals, `yield_now` and `sleep` (as `nap`).
//! Built with `--cfg shuttle` (`RUSTFLAGS="--cfg shuttle" cargo test -p memokit-core --lib
//! shuttle`) they are `shuttle`'s, which explores thread interleavings of the backend's tests,
//! the shard [lock](super::lock) included; quick_cache keeps the same swap in its `shim.rs`.

#[cfg(not(shuttle))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, fence,
};
#[cfg(not(shuttle))]
pub(crate) use std::thread::{sleep as nap, yield_now};
#[cfg(not(shuttle))]
pub(crate) use std::thread_local;

#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, fence,
};
#[cfg(shuttle)]
pub(crate) use shuttle::thread::yield_now;
#[cfg(shuttle)]
pub(crate) use shuttle::thread_local;
/// Under shuttle a nap is a yield: its scheduler, not time, decides who runs next.
#[cfg(shuttle)]
pub(crate) fn nap(_: std::time::Duration) {
    yield_now();
}
