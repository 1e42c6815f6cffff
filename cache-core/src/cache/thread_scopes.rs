//! Each thread's memory of the sandbox scopes it used last, so that a sandboxed hit takes no lock
//! and touches no shared counter.
//!
//! # Design
//!
//! A [`Cache`](crate::Cache) keeps the scope of each live sandbox namespace in a map behind a
//! read-write lock. Looking a scope up there costs four atomic read-modify-writes (lock, `Arc`
//! clone, unlock, `Arc` drop), and the lock word is shared by every sandbox of the cache, so tests
//! running in parallel bounce its cache line between cores on every call. A test, though, works in
//! one namespace on one thread and keeps calling the same few caches. So each thread remembers its
//! last few `(cache, namespace) -> scope` answers, holding the scopes' `Arc`s, and a hit that finds
//! its answer here borrows the scope with plain loads and stores only.
//!
//! Remembering is safe because a namespace's scope never changes while the namespace is alive: a
//! thread can only be inside a namespace while it holds the sandbox (its guard, or a handle
//! entered), and the namespace is torn down only when the last holder lets go. Namespace ids are
//! never reused within a process and cache ids are never reused either, so an answer about a
//! sandbox that is gone is never asked for again; it only keeps that (already emptied) scope
//! allocated until the slot is reused or the thread exits, at most [`SLOTS`] of them per thread.
//!
//! Scopes are stored type-erased (`dyn Any`) because one thread-local serves caches of every key
//! and value type; the cache id identifies the type too, so the downcast always succeeds.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::context::Namespace;

/// Answers remembered per thread: enough for a test that alternates between a few caches (a
/// memoized function calling another) without a scan that costs more than it saves.
const SLOTS: usize = 4;

/// A fresh id for a new cache, distinct from every other cache's in this process.
pub(crate) fn next_cache_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

struct Slot {
    cache: u64,
    namespace: Namespace,
    scope: Arc<dyn Any + Send + Sync>,
}

struct Recent {
    slots: [Option<Slot>; SLOTS],
    /// The slot the next answer replaces (round robin).
    next: usize,
}

thread_local! {
    static RECENT: RefCell<Recent> = const {
        RefCell::new(Recent { slots: [const { None }; SLOTS], next: 0 })
    };
}

impl Recent {
    #[inline]
    fn find(&self, cache: u64, namespace: Namespace) -> Option<&Arc<dyn Any + Send + Sync>> {
        self.slots
            .iter()
            .flatten()
            .find(|s| s.cache == cache && s.namespace == namespace)
            .map(|s| &s.scope)
    }
}

/// Runs `f` on the scope this thread remembers for `cache` in `namespace`; whether there was one
/// (else `f` did not run). `f` hands its result out through what it captures, which keeps a large
/// result from being moved through the thread-local's layers of `Option` on every hit.
///
/// The scope stays borrowed from the thread-local while `f` runs; `f` may use caches itself (a
/// telemetry handler does): lookups share the borrow, and [`remember`] skips while it is held.
#[inline]
pub(crate) fn with<T: Any>(cache: u64, namespace: Namespace, f: impl FnOnce(&T)) -> bool {
    RECENT
        .try_with(|recent| {
            let Ok(recent) = recent.try_borrow() else {
                return false;
            };
            match recent
                .find(cache, namespace)
                .and_then(|s| s.downcast_ref::<T>())
            {
                Some(scope) => {
                    f(scope);
                    true
                }
                None => false,
            }
        })
        .unwrap_or(false)
}

/// The scope this thread remembers for `cache` in `namespace`, as an owned `Arc`.
pub(crate) fn get<T: Any + Send + Sync>(cache: u64, namespace: Namespace) -> Option<Arc<T>> {
    RECENT
        .try_with(|recent| {
            let recent = recent.try_borrow().ok()?;
            recent.find(cache, namespace)?.clone().downcast().ok()
        })
        .ok()
        .flatten()
}

/// Remembers `scope` as `cache`'s scope in `namespace` on this thread, replacing the oldest
/// answer. Skipped while the answers are borrowed (inside [`with`]) or the thread is exiting.
pub(crate) fn remember<T: Any + Send + Sync>(cache: u64, namespace: Namespace, scope: Arc<T>) {
    let _ = RECENT.try_with(|recent| {
        let Ok(mut recent) = recent.try_borrow_mut() else {
            return;
        };
        let at = recent.next;
        recent.next = (at + 1) % SLOTS;
        // The replaced scope is dropped after the borrow ends: its destructor may use caches.
        let replaced = recent.slots[at].replace(Slot {
            cache,
            namespace,
            scope,
        });
        drop(recent);
        drop(replaced);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cache;

    fn ns(id: u64) -> Namespace {
        Namespace(id)
    }

    /// What [`with`] finds, copied out.
    fn read<T: Any + Copy>(cache: u64, namespace: Namespace) -> Option<T> {
        let mut found = None;
        with(cache, namespace, |s: &T| found = Some(*s));
        found
    }

    #[test]
    fn answers_are_found_by_cache_and_namespace_and_the_oldest_is_replaced() {
        let (a, b) = (next_cache_id(), next_cache_id());
        remember(a, ns(1), Arc::new(10_u32));
        remember(b, ns(1), Arc::new(20_u32));
        assert_eq!(read::<u32>(a, ns(1)), Some(10));
        assert_eq!(read::<u32>(b, ns(1)), Some(20));
        assert_eq!(read::<u32>(a, ns(2)), None);
        assert_eq!(get::<u32>(b, ns(1)).as_deref(), Some(&20));
        for n in 2..2 + SLOTS as u64 {
            remember(b, ns(n), Arc::new(0_u32));
        }
        assert!(
            read::<u32>(a, ns(1)).is_none(),
            "the oldest answer was replaced"
        );
    }

    #[test]
    fn a_cache_used_inside_a_remembered_scope_is_still_answered() {
        let (outer, inner) = (next_cache_id(), next_cache_id());
        remember(outer, ns(1), Arc::new(1_u8));
        remember(inner, ns(1), Arc::new(2_u8));
        let mut nested = None;
        with(outer, ns(1), |o: &u8| {
            // Remembering now would need the borrow `with` holds: it is skipped, not a panic.
            remember(inner, ns(9), Arc::new(3_u8));
            nested = read::<u8>(inner, ns(1)).map(|i| o + i);
        });
        assert_eq!(nested, Some(3));
        assert!(!with(inner, ns(9), |_: &u8| ()));
    }

    #[test]
    fn sandboxes_stay_isolated_when_a_thread_alternates_among_more_caches_than_it_remembers() {
        let caches: Vec<Cache<u8, u64>> = (0..SLOTS + 2)
            .map(|i| {
                Cache::builder(format!("recent-scopes-{i}"))
                    .build()
                    .unwrap()
            })
            .collect();
        let a = crate::sandbox();
        let a_handle = a.handle();
        for (i, cache) in caches.iter().enumerate() {
            cache.insert(0, i as u64).unwrap();
        }
        {
            let _b = crate::sandbox();
            for (i, cache) in caches.iter().enumerate() {
                assert_eq!(cache.get(&0).unwrap(), None, "sandbox b sees a's entry");
                cache.insert(0, 100 + i as u64).unwrap();
            }
            for (i, cache) in caches.iter().enumerate() {
                assert_eq!(cache.get(&0).unwrap(), Some(100 + i as u64));
            }
            let _back_in_a = a_handle.enter();
            for _round in 0..2 {
                for (i, cache) in caches.iter().enumerate() {
                    assert_eq!(cache.get(&0).unwrap(), Some(i as u64));
                }
            }
        }
        drop((a, a_handle));
        for cache in &caches {
            assert_eq!(
                cache.get(&0).unwrap(),
                None,
                "the global scope saw a sandbox entry"
            );
            assert_eq!(cache.stats().hits, 0);
        }
    }
}
