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
//! and value type; each answer keeps its scope's `TypeId` beside it, so finding one is a compare
//! of plain fields, with no call through the `Any` vtable.
//!
//! # Pinning
//!
//! A hit borrows its scope as a [`Pinned`] pointer rather than inside a closure run by the
//! thread-local, so that [`Cache::with_scope`](crate::Cache) calls its hit path at one place for
//! the global scope and a remembered one alike: the path is inlined once, and its result is
//! returned directly instead of through a slot the closure fills (which cost a sandboxed hit a
//! third more instructions than a global one). While any `Pinned` of the thread is alive, a count
//! beside the answers is above zero and [`remember`] changes nothing, so no `Arc` an answer holds
//! is dropped and every pinned pointer stays valid; the answers are changed nowhere else (the
//! thread-local's destructor runs when the thread exits, when no hit of the thread is running).
//! A `Pinned` is neither `Send` nor `Sync`: it is released on the thread that pinned it.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;
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
    /// The type `scope` holds, compared before a pin casts to it.
    type_id: TypeId,
    scope: Arc<dyn Any + Send + Sync>,
}

struct Recent {
    slots: [Option<Slot>; SLOTS],
    /// The slot the next answer replaces (round robin).
    next: usize,
}

struct Local {
    recent: RefCell<Recent>,
    /// How many [`Pinned`] scopes of this thread are alive; [`remember`] waits for zero.
    pins: Cell<usize>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            recent: RefCell::new(Recent { slots: [const { None }; SLOTS], next: 0 }),
            pins: Cell::new(0),
        }
    };
}

impl Recent {
    #[inline]
    fn find<T: Any>(
        &self,
        cache: u64,
        namespace: Namespace,
    ) -> Option<&Arc<dyn Any + Send + Sync>> {
        self.slots
            .iter()
            .flatten()
            .find(|s| {
                s.cache == cache && s.namespace == namespace && s.type_id == TypeId::of::<T>()
            })
            .map(|s| &s.scope)
    }
}

/// A scope this thread remembers, borrowed until this is dropped (see [Pinning](self#pinning)).
pub(crate) struct Pinned<T> {
    scope: NonNull<T>,
    /// Released on the thread that pinned it, whose count it holds up.
    _thread_bound: PhantomData<*const ()>,
}

impl<T> Deref for Pinned<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: the pointer is to the value of an `Arc` held by one of this thread's answers,
        // whose `TypeId` is `T`'s (`pin` checked), so it points to a live `T`; while this
        // `Pinned` lives the thread's pin count is above zero, so `remember` replaces no answer
        // and that `Arc` stays alive. The value is only ever shared, never reached mutably.
        unsafe { self.scope.as_ref() }
    }
}

impl<T> Drop for Pinned<T> {
    #[inline(always)]
    fn drop(&mut self) {
        // `try_with`: the count is gone only once the thread's locals are torn down, and with
        // them every answer this could have kept alive.
        let _ = LOCAL.try_with(|local| local.pins.set(local.pins.get() - 1));
    }
}

/// Pins the scope this thread remembers for `cache` in `namespace`, if it remembers one. Out of
/// line: the hit path makes one call here and keeps its own code small.
#[inline(never)]
pub(crate) fn pin<T: Any>(cache: u64, namespace: Namespace) -> Option<Pinned<T>> {
    LOCAL
        .try_with(|local| {
            let recent = local.recent.try_borrow().ok()?;
            let scope = recent.find::<T>(cache, namespace)?;
            // `find` matched the slot's `type_id` with `T`'s: the `Arc`'s value is a `T`.
            let scope = NonNull::from(&**scope).cast::<T>();
            local.pins.set(local.pins.get() + 1);
            Some(Pinned {
                scope,
                _thread_bound: PhantomData,
            })
        })
        .ok()
        .flatten()
}

/// The scope this thread remembers for `cache` in `namespace`, as an owned `Arc`.
pub(crate) fn get<T: Any + Send + Sync>(cache: u64, namespace: Namespace) -> Option<Arc<T>> {
    LOCAL
        .try_with(|local| {
            let recent = local.recent.try_borrow().ok()?;
            recent.find::<T>(cache, namespace)?.clone().downcast().ok()
        })
        .ok()
        .flatten()
}

/// Remembers `scope` as `cache`'s scope in `namespace` on this thread, replacing the oldest
/// answer. Skipped while a scope of this thread is pinned (a cache used inside another's hit
/// path, as a telemetry handler may) or the thread is exiting.
pub(crate) fn remember<T: Any + Send + Sync>(cache: u64, namespace: Namespace, scope: Arc<T>) {
    let _ = LOCAL.try_with(|local| {
        if local.pins.get() > 0 {
            return;
        }
        let Ok(mut recent) = local.recent.try_borrow_mut() else {
            return;
        };
        let at = recent.next;
        recent.next = (at + 1) % SLOTS;
        // The replaced scope is dropped after the borrow ends: its destructor may use caches.
        let replaced = recent.slots[at].replace(Slot {
            cache,
            namespace,
            type_id: TypeId::of::<T>(),
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

    /// What [`pin`] finds, copied out.
    fn read<T: Any + Copy>(cache: u64, namespace: Namespace) -> Option<T> {
        pin::<T>(cache, namespace).map(|s| *s)
    }

    #[test]
    fn answers_are_found_by_cache_and_namespace_and_the_oldest_is_replaced() {
        let (a, b) = (next_cache_id(), next_cache_id());
        remember(a, ns(1), Arc::new(10_u32));
        remember(b, ns(1), Arc::new(20_u32));
        assert_eq!(read::<u32>(a, ns(1)), Some(10));
        assert_eq!(read::<u32>(b, ns(1)), Some(20));
        assert_eq!(read::<u32>(a, ns(2)), None);
        assert_eq!(read::<u64>(a, ns(1)), None, "an answer of another type");
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
        let o = pin::<u8>(outer, ns(1)).expect("remembered");
        // Remembering now could drop the pinned scope: it is skipped.
        remember(inner, ns(9), Arc::new(3_u8));
        assert_eq!(read::<u8>(inner, ns(1)).map(|i| *o + i), Some(3));
        assert_eq!(read::<u8>(inner, ns(9)), None);
        drop(o);
        remember(inner, ns(9), Arc::new(3_u8));
        assert_eq!(
            read::<u8>(inner, ns(9)),
            Some(3),
            "remembered once unpinned"
        );
    }

    /// Under Miri this is the use-after-free check: were the pinned answers replaced (their
    /// `Arc`s dropped), reading through the pins would touch freed memory.
    #[test]
    fn pinned_scopes_outlive_more_remembers_than_there_are_slots() {
        let cache = next_cache_id();
        for n in 0..SLOTS as u64 {
            remember(cache, ns(100 + n), Arc::new(vec![n; 3]));
        }
        let pins: Vec<Pinned<Vec<u64>>> = (0..SLOTS as u64)
            .map(|n| pin(cache, ns(100 + n)).expect("remembered"))
            .collect();
        for n in 0..2 * SLOTS as u64 {
            remember(cache, ns(200 + n), Arc::new(vec![0_u64; 3]));
        }
        assert!(
            pin::<Vec<u64>>(cache, ns(200)).is_none(),
            "remembered while pinned"
        );
        for (n, pinned) in pins.iter().enumerate() {
            assert_eq!(**pinned, vec![n as u64; 3]);
        }
        drop(pins);
        remember(cache, ns(300), Arc::new(vec![7_u64; 3]));
        assert_eq!(pin::<Vec<u64>>(cache, ns(300)).map(|v| v[0]), Some(7));
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
