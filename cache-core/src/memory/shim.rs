//! The synchronization primitives of the in-memory backend, in one place so a model checker can
//! swap them in.
//!
//! Normally these are `parking_lot`'s `RwLock` and std's atomics. Built with `--cfg shuttle`
//! (`RUSTFLAGS="--cfg shuttle" cargo test -p memokit-core --lib shuttle`) they are `shuttle`'s,
//! which explores thread interleavings of the backend's tests; quick_cache keeps the same swap in
//! its `shim.rs`.

#[cfg(not(shuttle))]
pub(crate) use parking_lot::RwLock;
#[cfg(not(shuttle))]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicU64};

#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicU8, AtomicU64};
#[cfg(shuttle)]
pub(crate) use shuttle_lock::RwLock;

/// `shuttle`'s lock behind `parking_lot`'s signatures (no poisoning).
#[cfg(shuttle)]
mod shuttle_lock {
    use std::ops::{Deref, DerefMut};

    pub(crate) struct RwLock<T>(shuttle::sync::RwLock<T>);
    pub(crate) struct RwLockReadGuard<'a, T>(shuttle::sync::RwLockReadGuard<'a, T>);
    pub(crate) struct RwLockWriteGuard<'a, T>(shuttle::sync::RwLockWriteGuard<'a, T>);

    impl<T> RwLock<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(shuttle::sync::RwLock::new(value))
        }

        pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
            RwLockReadGuard(self.0.read().unwrap_or_else(|e| e.into_inner()))
        }

        pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
            RwLockWriteGuard(self.0.write().unwrap_or_else(|e| e.into_inner()))
        }
    }

    impl<T> Deref for RwLockReadGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    impl<T> Deref for RwLockWriteGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    impl<T> DerefMut for RwLockWriteGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.0
        }
    }
}
