//! The synchronization primitives of the in-memory backend, in one place so a model checker can
//! swap them in.
//!
//! Normally these are std's atomics, fences, thread-locals and `yield_now`, and `parking_lot`'s
//! `Mutex`. Built with `--cfg shuttle`
//! (`RUSTFLAGS="--cfg shuttle" cargo test -p memokit-core --lib shuttle`) they are `shuttle`'s,
//! which explores thread interleavings of the backend's tests, the shard [lock](super::lock)
//! included; quick_cache keeps the same swap in its `shim.rs`.

#[cfg(not(shuttle))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(not(shuttle))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, fence};
#[cfg(not(shuttle))]
pub(crate) use std::thread::yield_now;
#[cfg(not(shuttle))]
pub(crate) use std::thread_local;

#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, fence};
#[cfg(shuttle)]
pub(crate) use shuttle::thread::yield_now;
#[cfg(shuttle)]
pub(crate) use shuttle::thread_local;
#[cfg(shuttle)]
pub(crate) use shuttle_mutex::{Mutex, MutexGuard};

/// `shuttle`'s mutex behind `parking_lot`'s signatures (no poisoning).
#[cfg(shuttle)]
mod shuttle_mutex {
    pub(crate) struct Mutex<T>(shuttle::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = shuttle::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(shuttle::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}
