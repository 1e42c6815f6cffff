//! Counters: `incr` and `decr` on integer values, done in place under the shard's write lock
//! (ElixirCache's ETS adapter offers the same with `:ets.update_counter`).
//!
//! A missing (or expired) key counts from zero: `incr(key, 5)` on nothing stores 5 with the
//! cache-wide TTL, as Redis `INCRBY` does. An existing counter keeps its write time and expiry,
//! again like Redis. Arithmetic is checked: a result outside the value type's range is an error
//! and leaves the counter unchanged, rather than wrapping silently.

use std::hash::{BuildHasher, Hash};

use super::MemoryBackend;
use crate::error::{BackendError, BackendErrorKind};
use crate::key::Lookup;

/// An integer type that [`MemoryBackend::incr`] and [`MemoryBackend::decr`] can count in.
/// Implemented for every primitive integer.
pub trait Counter: Copy {
    /// `self + delta`, or `None` if that is outside the type's range.
    fn checked_add_signed(self, delta: i64) -> Option<Self>;
    /// The value a missing counter starts from.
    const ZERO: Self;
}

macro_rules! counter {
    ($($t:ty),*) => {$(
        impl Counter for $t {
            fn checked_add_signed(self, delta: i64) -> Option<Self> {
                // Through i128, which holds every value of every type here plus any i64 delta.
                let sum = i128::try_from(self).ok()?.checked_add(i128::from(delta))?;
                Self::try_from(sum).ok()
            }
            const ZERO: Self = 0;
        }
    )*};
}

counter!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl<K, V> MemoryBackend<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Counter + Send + Sync + 'static,
{
    /// Adds `delta` to the counter under `key` and returns its new value. A missing or expired
    /// key starts from zero and is stored with the cache-wide TTL; an existing counter keeps its
    /// expiry. A result out of `V`'s range is a [`BackendErrorKind::Other`] error and changes
    /// nothing.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let quota: Cache<&'static str, u8> = Cache::builder("quota").build()?;
    /// let backend = quota.backend()?;
    /// assert_eq!(backend.incr(&"ada", 200)?, 200);
    /// assert!(backend.incr(&"ada", 100).is_err()); // 300 does not fit in a u8
    /// assert_eq!(backend.decr(&"ada", 50)?, 150);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn incr<Q: ?Sized + Lookup<K>>(&self, key: &Q, delta: i64) -> Result<V, BackendError> {
        let hash = self.hasher.hash_one(key);
        let early = self.write_time(false);
        let cell = self.cell(hash);
        let mut shard = cell.shard.write();
        let now = Self::write_time_in(early, &shard);
        let ctx = self.write_context(now.as_nanos());
        let expires = Self::expiry(now, self.config.ttl);
        let counted = shard.update(hash, key, expires, &ctx, |current| {
            let current = current.copied().unwrap_or(V::ZERO);
            current.checked_add_signed(delta).ok_or_else(|| {
                BackendError::new(
                    "memory",
                    BackendErrorKind::Other,
                    format_args!(
                        "counter of cache `{}` would leave the range of {} by adding {delta}",
                        self.config.name,
                        std::any::type_name::<V>()
                    ),
                )
            })
        });
        self.publish(cell, &mut shard);
        counted
    }

    /// Subtracts `delta` from the counter under `key`; the same as `incr(key, -delta)`.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let stock: Cache<u32, i64> = Cache::builder("stock").build()?;
    /// assert_eq!(stock.backend()?.decr(&7, 3)?, -3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decr<Q: ?Sized + Lookup<K>>(&self, key: &Q, delta: i64) -> Result<V, BackendError> {
        match delta.checked_neg() {
            Some(negated) => self.incr(key, negated),
            // -i64::MIN does not exist; subtract in two steps that do.
            None => {
                self.incr(key, i64::MAX)?;
                self.incr(key, 1)
            }
        }
    }
}
