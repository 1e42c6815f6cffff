//! What keeps a tiered cache's first layer from serving what the second layer no longer holds:
//! the epochs fills are checked against, whether invalidations are being heard at all, and the
//! first-layer views an invalidation is applied to.
//!
//! A fill takes a [`Ticket`] before it reads the second layer and keeps its copy only if the
//! ticket still holds after the copy is in: every invalidation (heard from Redis or made by a
//! local write) bumps its key's stripe *before* dropping the key, and every clear or lost
//! connection bumps the epoch of the whole layer before clearing it. Either the bump comes
//! before the fill's check, which then fails, or the drop comes after the fill's insert, which
//! it then removes: a fill can never leave behind a value older than an invalidation it raced.

use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use crate::backend::{Backend, Ttl};
use crate::bounds::{CacheKey, CacheValue};
use crate::memory::MemoryBackend;

/// Stripes of key epochs: an invalidation fails the fills of about 1/64 of the keys, not all.
const STRIPES: usize = 64;

/// A first-layer view, by the tag of its namespace in the second layer.
type View<K, V> = (Box<[u8]>, Weak<MemoryBackend<K, V>>);

/// One tiered cache's coherence state, shared by its views and its invalidation listener.
pub struct Coherence<K, V> {
    stripes: [AtomicU64; STRIPES],
    /// Bumped by every clear, flush and lost connection.
    all: AtomicU64,
    /// Whether the first layer may fill: invalidations are being heard (always, for a second
    /// layer no other process writes).
    hearing: AtomicBool,
    hasher: RandomState,
    local_ttl: Option<Duration>,
    /// The first-layer views, by the tag of their namespace in the second layer.
    views: Mutex<Vec<View<K, V>>>,
}

/// What a fill saw before it read the second layer.
pub(crate) struct Ticket {
    stripe: usize,
    seen: u64,
    all: u64,
}

impl<K: CacheKey, V: CacheValue> Coherence<K, V> {
    pub(crate) fn new(local_ttl: Option<Duration>) -> Self {
        Self {
            stripes: std::array::from_fn(|_| AtomicU64::new(0)),
            all: AtomicU64::new(0),
            hearing: AtomicBool::new(false),
            hasher: RandomState::new(),
            local_ttl,
            views: Mutex::new(Vec::new()),
        }
    }

    fn stripe<Q: ?Sized + Hash>(&self, key: &Q) -> usize {
        // The low bits: `STRIPES` is a power of two.
        (self.hasher.hash_one(key) as usize) % STRIPES
    }

    /// A ticket for filling `key`, or `None` if the first layer must not fill now.
    pub(crate) fn ticket<Q: ?Sized + Hash>(&self, key: &Q) -> Option<Ticket> {
        if !self.hearing.load(SeqCst) {
            return None;
        }
        let stripe = self.stripe(key);
        Some(Ticket {
            stripe,
            seen: self.stripes[stripe].load(SeqCst),
            all: self.all.load(SeqCst),
        })
    }

    /// Whether nothing invalidated the ticket's key since it was taken.
    pub(crate) fn holds(&self, ticket: &Ticket) -> bool {
        self.hearing.load(SeqCst)
            && self.stripes[ticket.stripe].load(SeqCst) == ticket.seen
            && self.all.load(SeqCst) == ticket.all
    }

    /// How long a copy of an entry with `left` may stay in the first layer: `None` if it must
    /// not be copied, `Some(None)` for no deadline. `fresh` is how long the value has before a
    /// refresh age makes it stale, for a cache with one: the copy goes then, so that the next
    /// read sees the second layer's write time and refreshes.
    pub(crate) fn copy_ttl(&self, left: Ttl, fresh: Option<Duration>) -> Option<Option<Duration>> {
        let bound = match (self.local_ttl, fresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (left, bound) {
            (Ttl::Missing, _) => None,
            (_, Some(bound)) if bound.is_zero() => None,
            (Ttl::In(left), bound) => Some(Some(bound.map_or(left, |b| b.min(left)))),
            (Ttl::Never, bound) => Some(bound),
        }
    }

    /// Marks `key` changed; the caller then drops it from its first layer.
    pub(crate) fn changed<Q: ?Sized + Hash>(&self, key: &Q) {
        self.stripes[self.stripe(key)].fetch_add(1, SeqCst);
    }

    /// Marks every key changed; the caller then clears its first layer.
    pub(crate) fn changed_all(&self) {
        self.all.fetch_add(1, SeqCst);
    }

    /// Adds a first-layer view, found by `tag` when an invalidation names one of its keys.
    pub(crate) fn register(&self, tag: Box<[u8]>, view: &Arc<MemoryBackend<K, V>>) {
        let mut views = self.views.lock();
        views.retain(|(_, v)| v.strong_count() > 0);
        views.push((tag, Arc::downgrade(view)));
    }

    fn each_view(&self, mut f: impl FnMut(&[u8], &MemoryBackend<K, V>)) {
        let views: Vec<_> = self
            .views
            .lock()
            .iter()
            .filter_map(|(tag, v)| Some((tag.clone(), v.upgrade()?)))
            .collect();
        for (tag, view) in &views {
            f(tag, view);
        }
    }

    /// Another process wrote `key` in the view tagged `tag`.
    pub(crate) fn heard(&self, tag: &[u8], key: &K) {
        self.changed(key);
        self.each_view(|t, view| {
            if t == tag {
                let _ = view.remove(key);
            }
        });
    }

    /// Something changed keys that cannot be told apart (a flush, a key that does not decode):
    /// every view forgets everything.
    pub(crate) fn heard_all(&self) {
        self.changed_all();
        self.each_view(|_, view| {
            let _ = view.clear();
        });
    }

    /// Invalidations are being heard from now on: the first layer may fill.
    pub(crate) fn hearing(&self) {
        self.hearing.store(true, SeqCst);
    }

    /// Invalidations can no longer be heard: stop filling, then forget everything.
    pub(crate) fn deaf(&self) {
        self.hearing.store(false, SeqCst);
        self.heard_all();
    }

    /// Whether invalidations are being heard (the first layer fills).
    pub(crate) fn is_hearing(&self) -> bool {
        self.hearing.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn view() -> Arc<MemoryBackend<u32, u32>> {
        Arc::new(MemoryBackend::open(&Config::new("t".into()), &()).unwrap())
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_or_a_lost_connection_does_not_hold() {
        let c = Coherence::<u32, u32>::new(None);
        assert!(
            c.ticket(&1).is_none(),
            "no fills before invalidations are heard"
        );
        c.hearing();
        let ticket = c.ticket(&1).unwrap();
        assert!(c.holds(&ticket));
        c.heard(b"global", &1);
        assert!(!c.holds(&ticket));
        let ticket = c.ticket(&1).unwrap();
        c.deaf();
        assert!(!c.holds(&ticket));
        assert!(c.ticket(&1).is_none());
    }

    #[test]
    fn an_invalidation_drops_the_key_from_its_own_view_only() {
        let c = Coherence::<u32, u32>::new(None);
        let (a, b) = (view(), view());
        c.register(b"a:".to_vec().into(), &a);
        c.register(b"b:".to_vec().into(), &b);
        for v in [&a, &b] {
            v.insert(1, 1, None).unwrap();
            v.insert(2, 2, None).unwrap();
        }
        c.heard(b"a:", &1);
        assert!(a.get(&1).unwrap().is_none());
        assert!(a.get(&2).unwrap().is_some());
        assert!(b.get(&1).unwrap().is_some());
        c.heard_all();
        assert!(b.get(&2).unwrap().is_none());
    }

    #[test]
    fn a_copy_lives_no_longer_than_the_entry_nor_the_local_bound() {
        let bounded = Coherence::<u32, u32>::new(Some(Duration::from_secs(5)));
        let secs = Duration::from_secs;
        assert_eq!(
            bounded.copy_ttl(Ttl::In(secs(2)), None),
            Some(Some(secs(2)))
        );
        assert_eq!(
            bounded.copy_ttl(Ttl::In(secs(9)), None),
            Some(Some(secs(5)))
        );
        assert_eq!(bounded.copy_ttl(Ttl::Never, None), Some(Some(secs(5))));
        assert_eq!(bounded.copy_ttl(Ttl::Missing, None), None);
        assert_eq!(
            bounded.copy_ttl(Ttl::Never, Some(secs(1))),
            Some(Some(secs(1)))
        );
        assert_eq!(
            bounded.copy_ttl(Ttl::Never, Some(secs(0))),
            None,
            "already stale"
        );
        let unbounded = Coherence::<u32, u32>::new(None);
        assert_eq!(unbounded.copy_ttl(Ttl::Never, None), Some(None));
        assert_eq!(
            unbounded.copy_ttl(Ttl::In(secs(9)), Some(secs(3))),
            Some(Some(secs(3)))
        );
    }
}
