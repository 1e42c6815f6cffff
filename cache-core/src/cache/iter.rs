//! Walking a cache's entries (Cachex's `stream` and `keys`, moka's `iter`), on backends that
//! can ([`Iterate`]): the walk goes one backend step at a time (a shard in memory, a `SCAN`
//! page on Redis), so it holds nothing for its whole length and never blocks writers for it.

use std::collections::VecDeque;

use super::handle::Cache;
use crate::backend::{Cursor, Iterate};
use crate::bounds::{CacheKey, CacheValue};
use crate::error::CacheError;

impl<K: CacheKey, V: CacheValue, B: Iterate<K, V>> Cache<K, V, B> {
    /// The live entries of the current namespace, weakly consistent: every entry live for the
    /// whole walk comes exactly once, none twice and none expired; one inserted or removed
    /// during the walk may or may not come. Items are `Err` if the backend fails (the walk then
    /// ends).
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let users: Cache<u64, String> = Cache::builder("iter-doc").build()?;
    /// users.insert_many([(1, "ada".to_string()), (2, "bob".to_string())])?;
    /// let mut all = users.iter().collect::<Result<Vec<_>, _>>()?;
    /// all.sort();
    /// assert_eq!(all, [(1, "ada".to_string()), (2, "bob".to_string())]);
    /// let mut ids = users.keys().collect::<Result<Vec<_>, _>>()?;
    /// ids.sort();
    /// assert_eq!(ids, [1, 2]);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, B> {
        Iter {
            cache: self,
            cursor: Some(Cursor::START),
            buffered: VecDeque::new(),
        }
    }

    /// The keys of the live entries; see [`iter`](Self::iter).
    pub fn keys(&self) -> impl Iterator<Item = Result<K, CacheError>> + '_ {
        self.iter().map(|entry| entry.map(|(k, _)| k))
    }

    /// Removes every live entry for which `pred` holds; how many it removed. In memory each
    /// shard is locked while it is scanned, so `pred` must not use this cache; on Redis a
    /// value overwritten after `pred` saw it is not removed.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let sessions: Cache<(u32, u64), String> = Cache::builder("remove-where-doc").build()?;
    /// sessions.insert_many([((7, 1), "a".into()), ((7, 2), "b".into()), ((8, 1), "c".into())])?;
    /// // Log user 7 out everywhere.
    /// assert_eq!(sessions.remove_where(|&(user, _), _| user == 7)?, 2);
    /// assert_eq!(sessions.len(), 1);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn remove_where(&self, pred: impl FnMut(&K, &V) -> bool) -> Result<u64, CacheError> {
        let scope = self.scope()?;
        let removed = scope.backend.remove_where(pred);
        self.removed_many(&scope, removed)
    }
}

/// The iterator of [`Cache::iter`].
pub struct Iter<'c, K, V, B: Iterate<K, V>> {
    cache: &'c Cache<K, V, B>,
    cursor: Option<Cursor>,
    buffered: VecDeque<(K, V)>,
}

impl<K: CacheKey, V: CacheValue, B: Iterate<K, V>> Iterator for Iter<'_, K, V, B> {
    type Item = Result<(K, V), CacheError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.buffered.pop_front() {
                return Some(Ok(entry));
            }
            let cursor = self.cursor.take()?;
            let scope = match self.cache.scope() {
                Ok(scope) => scope,
                Err(e) => return Some(Err(e)),
            };
            let buffered = &mut self.buffered;
            let step = scope
                .backend
                .scan(cursor, &mut |k, v| buffered.push_back((k, v)));
            match self.cache.answered(&scope, step) {
                Ok(next) => self.cursor = next,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
