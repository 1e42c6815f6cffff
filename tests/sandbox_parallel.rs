//! 200 tests run in parallel, each writing its own values under the same keys of the same caches
//! (a memoized function, a cache module and a hand-built cache). None may ever see another test's value, and
//! once every test's sandbox is gone, no entry may be left.
//!
//! "Once every sandbox is gone" is checked without racing the other tests: each test counts
//! itself finished after its sandbox was torn down, and the test that finishes last (whichever it
//! is) checks that every value ever cached has been freed. Values count their live copies, so
//! entries that were merely hidden, not freed, would show. When a filter runs only some of the
//! tests, nobody is last and the final check is skipped.

mod support;

use std::cell::Cell;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memokit::{Cache, cached, sandbox, sandboxed};
use support::counted::{Counted, Live};

const TESTS: usize = 200;
const KEYS: u64 = 16;
const ROUNDS: u64 = 4;

/// Every value cached by any test; its count must fall back to 0.
static LIVE: LazyLock<Live> = LazyLock::new(Live::default);
static FINISHED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The test running on this thread; the memoized body bakes it into its value.
    static TEST: Cell<u64> = const { Cell::new(u64::MAX) };
}

#[cached]
fn value_of(key: u64) -> Counted {
    LIVE.value(TEST.get() * 1_000 + key)
}

/// A cache module: its associated functions reach one static cache.
#[derive(memokit::Cache)]
#[cache(key = u64, value = Counted)]
struct Module;

static SHARED: LazyLock<Cache<u64, Counted>> =
    LazyLock::new(|| Cache::builder("sandbox_parallel::shared").build().unwrap());

/// One test's work: write its own values under the shared keys, then read them back, many times,
/// while 199 other tests do the same.
fn exercise(test: u64) {
    TEST.set(test);
    for round in 0..ROUNDS {
        for key in 0..KEYS {
            let own = test * 1_000 + key;
            assert_eq!(
                value_of(key).n,
                own,
                "test {test} saw another test's memoized value"
            );
            SHARED.insert(key, LIVE.value(own + round)).unwrap();
            Module::insert(key, LIVE.value(own + round + 100)).unwrap();
            std::thread::yield_now();
            let got = Module::get(&key).unwrap().map(|c| c.n);
            assert_eq!(
                got,
                Some(own + round + 100),
                "test {test}: another test's module value"
            );
            let got = SHARED.get(&key).unwrap().map(|c| c.n);
            assert_eq!(
                got,
                Some(own + round),
                "test {test} saw another test's value"
            );
        }
    }
    assert_eq!(
        VALUE_OF_MEMO.stats().loads,
        KEYS,
        "each key loaded once, in this sandbox only"
    );
    assert_eq!(VALUE_OF_MEMO.len(), KEYS);
    assert_eq!(SHARED.len(), KEYS);
    assert_eq!(Module::len(), KEYS);
    let stats = sandbox::current().unwrap().stats();
    assert_eq!(stats.entries, 3 * KEYS);
}

/// The attribute form.
#[sandboxed]
fn with_attribute(test: u64) {
    exercise(test);
}

/// The guard form.
fn with_guard(test: u64) {
    let _sb = memokit::sandbox();
    exercise(test);
}

/// Runs test `test` in its own sandbox, then counts it finished; the last one checks that no
/// entry is left.
fn run(test: u64) {
    if test.is_multiple_of(2) {
        with_attribute(test);
    } else {
        with_guard(test);
    }
    if FINISHED.fetch_add(1, Ordering::SeqCst) + 1 == TESTS {
        assert_eq!(
            LIVE.count(),
            0,
            "every sandbox is gone, yet values are still cached"
        );
        assert!(
            VALUE_OF_MEMO.is_empty() && SHARED.is_empty() && Module::is_empty(),
            "nothing was written outside"
        );
    }
}

macro_rules! units {
    ($base:expr) => {
        units!($base; u0 = 0, u1 = 1, u2 = 2, u3 = 3, u4 = 4, u5 = 5, u6 = 6, u7 = 7, u8 = 8, u9 = 9);
    };
    ($base:expr; $($name:ident = $unit:literal),*) => {
        $(
            #[test]
            fn $name() {
                super::super::run($base + $unit);
            }
        )*
    };
}

macro_rules! tens {
    ($base:expr) => {
        tens!($base; t0 = 0, t1 = 10, t2 = 20, t3 = 30, t4 = 40, t5 = 50, t6 = 60, t7 = 70, t8 = 80, t9 = 90);
    };
    ($base:expr; $($name:ident = $ten:literal),*) => {
        $(
            mod $name {
                units!($base + $ten);
            }
        )*
    };
}

mod h0 {
    tens!(0);
}

mod h1 {
    tens!(100);
}
