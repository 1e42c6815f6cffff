//! The in-memory backend against a model: a `HashMap` of values with expiry and idle times, on a
//! manual clock. Unbounded caches must agree with the model exactly, down to the count of live
//! entries after every operation and the expiries the listener has heard by then; bounded ones
//! may forget entries (eviction) but never return a value the model does not hold, and never
//! hold more than their capacity or than the model's live entries.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use memokit_core::clock::ManualClock;
use memokit_core::{Cache, RemovalCause};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, i64),
    InsertWithTtl(u8, i64, u8),
    Get(u8),
    Remove(u8),
    Incr(u8, i8),
    RemoveWhereBelow(u8),
    Advance(u8),
    PurgeExpired,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    // A small key space so operations collide on keys.
    let key = 0u8..24;
    prop_oneof![
        4 => (key.clone(), any::<i64>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (key.clone(), any::<i64>(), 1u8..20).prop_map(|(k, v, t)| Op::InsertWithTtl(k, v, t)),
        5 => key.clone().prop_map(Op::Get),
        1 => key.clone().prop_map(Op::Remove),
        2 => (key.clone(), any::<i8>()).prop_map(|(k, d)| Op::Incr(k, d)),
        1 => key.prop_map(Op::RemoveWhereBelow),
        2 => (1u8..8).prop_map(Op::Advance),
        1 => Just(Op::PurgeExpired),
        1 => Just(Op::Clear),
    ]
}

/// What the model remembers of one key, times in seconds on the manual clock.
#[derive(Debug, Clone, Copy)]
struct Entry {
    value: i64,
    expires: Option<u64>,
    read: u64,
}

struct Model {
    entries: HashMap<u8, Entry>,
    now: u64,
    ttl: Option<u64>,
    tti: Option<u64>,
}

impl Model {
    /// Forgets every entry past its deadline; how many.
    fn expire(&mut self) -> u64 {
        let (now, tti) = (self.now, self.tti);
        let before = self.entries.len();
        self.entries.retain(|_, e| {
            !(e.expires.is_some_and(|x| now >= x) || tti.is_some_and(|t| now >= e.read + t))
        });
        (before - self.entries.len()) as u64
    }

    fn live(&mut self, key: u8) -> Option<&mut Entry> {
        let (now, tti) = (self.now, self.tti);
        let dead = self.entries.get(&key).is_some_and(|e| {
            e.expires.is_some_and(|x| now >= x) || tti.is_some_and(|t| now >= e.read + t)
        });
        if dead {
            self.entries.remove(&key);
        }
        self.entries.get_mut(&key)
    }

    fn put(&mut self, key: u8, value: i64, ttl: Option<u64>) {
        let expires = ttl.map(|t| self.now + t);
        self.entries.insert(
            key,
            Entry {
                value,
                expires,
                read: self.now,
            },
        );
    }
}

fn run(ops: Vec<Op>, ttl: Option<u64>, tti: Option<u64>, capacity: Option<u64>) {
    let clock = ManualClock::new();
    let _guard = clock.install();
    let mut builder = Cache::<u8, i64>::builder("model");
    if let Some(t) = ttl {
        builder = builder.ttl(Duration::from_secs(t));
    }
    if let Some(t) = tti {
        builder = builder.tti(Duration::from_secs(t));
    }
    if let Some(c) = capacity {
        builder = builder.capacity(c);
    }
    let expired = Arc::new(AtomicU64::new(0));
    let heard = expired.clone();
    let cache = builder
        .eviction_listener(move |_, _, cause| {
            if cause == RemovalCause::Expired {
                heard.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let mut model = Model {
        entries: HashMap::new(),
        now: 0,
        ttl,
        tti,
    };
    let exact = capacity.is_none();
    for op in ops {
        match op {
            Op::Insert(k, v) => {
                cache.insert(k, v).unwrap();
                model.put(k, v, model.ttl);
            }
            Op::InsertWithTtl(k, v, t) => {
                cache
                    .insert_with_ttl(k, v, Duration::from_secs(t.into()))
                    .unwrap();
                model.put(k, v, Some(t.into()));
            }
            Op::Get(k) => {
                let got = cache.get(&k).unwrap();
                let now = model.now;
                let want = model.live(k).map(|e| {
                    e.read = now;
                    e.value
                });
                if exact || got.is_some() {
                    assert_eq!(got, want, "get({k})");
                } else {
                    // Evicted: the model forgets it too.
                    model.entries.remove(&k);
                }
            }
            Op::Remove(k) => {
                let removed = cache.remove(&k).unwrap();
                let was = model.live(k).is_some();
                model.entries.remove(&k);
                if exact {
                    assert_eq!(removed, was, "remove({k})");
                } else {
                    assert!(!removed || was, "removed a value the model lacks");
                }
            }
            Op::Incr(k, d) => {
                let got = cache.backend().unwrap().incr(&k, d.into());
                let now = model.now;
                if !exact && got.as_ref().is_ok_and(|&v| v == i64::from(d)) {
                    // Perhaps evicted before the increment: the cache started again from zero.
                    model.entries.remove(&k);
                }
                let want = match model.live(k) {
                    Some(e) => e.value.checked_add(d.into()).inspect(|&v| {
                        e.value = v;
                        e.read = now;
                    }),
                    None => {
                        model.put(k, d.into(), model.ttl);
                        Some(d.into())
                    }
                };
                assert_eq!(got.ok(), want, "incr({k}, {d})");
            }
            Op::RemoveWhereBelow(bound) => {
                let removed = cache.backend().unwrap().remove_where(|&k, _| k < bound);
                let keys: Vec<u8> = model.entries.keys().copied().collect();
                let mut want = 0;
                for k in keys {
                    if model.live(k).is_some() && k < bound {
                        model.entries.remove(&k);
                        want += 1;
                    }
                }
                if exact {
                    assert_eq!(removed, want, "remove_where(k < {bound})");
                } else {
                    assert!(removed <= want);
                }
            }
            Op::Advance(s) => {
                clock.advance(Duration::from_secs(s.into()));
                model.now += u64::from(s);
            }
            Op::PurgeExpired => {
                let purged = cache.purge_expired().unwrap();
                let want = model.expire();
                if exact {
                    assert_eq!(purged, want, "purge_expired");
                } else {
                    assert!(purged <= want, "purged more than expired");
                }
            }
            Op::Clear => {
                cache.clear().unwrap();
                model.entries.clear();
            }
        }
        // Whatever the operation, nothing past its deadline is counted, and the listener has
        // heard of each expiry the stats count.
        model.expire();
        let stats = cache.stats();
        let live = model.entries.len() as u64;
        if exact {
            assert_eq!(stats.entries, live, "live entries");
            assert_eq!(cache.len(), live);
            assert_eq!(cache.is_empty(), live == 0);
        } else {
            assert!(stats.entries <= live, "counts entries the model lacks");
        }
        assert_eq!(
            expired.load(Ordering::SeqCst),
            stats.expired,
            "expiries heard"
        );
        if let Some(c) = capacity {
            let entries = stats.entries;
            assert!(entries <= c, "{entries} entries over capacity {c}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn unbounded_agrees_with_the_model(ops in prop::collection::vec(op(), 1..200)) {
        run(ops, None, None, None);
    }

    #[test]
    fn ttl_and_tti_agree_with_the_model(
        ops in prop::collection::vec(op(), 1..200),
        ttl in prop::option::of(1u64..30),
        tti in prop::option::of(1u64..15),
    ) {
        run(ops, ttl, tti, None);
    }

    #[test]
    fn bounded_never_invents_values(
        ops in prop::collection::vec(op(), 1..300),
        capacity in 1u64..12,
        tti in prop::option::of(1u64..15),
    ) {
        run(ops, None, tti, Some(capacity));
    }
}
