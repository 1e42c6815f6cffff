//! memokit: memoization and caching.
pub use memokit_core::*;
pub use memokit_macros::cached;
