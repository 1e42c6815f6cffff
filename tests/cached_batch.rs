//! `#[cached(batch)]`: a function from ids to a map, memoized per id. Each call runs the body
//! with only the ids nobody has cached or is loading; overlapping concurrent batches load each
//! id once; an `Err` caches nothing; the companion works per id; sync, async and methods alike.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Duration;

use memokit::cached;

/// Every id a body was asked for, in order, per function.
static SQUARED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[cached(batch)]
fn squares(ids: &[u64]) -> HashMap<u64, u64> {
    SQUARED.lock().unwrap().extend_from_slice(ids);
    // Id 13 does not exist: left out of the answer, it is not cached.
    ids.iter()
        .filter(|&&id| id != 13)
        .map(|&id| (id, id * id))
        .collect()
}

#[test]
fn a_batch_loads_only_the_missing_ids_and_merges() {
    let _sb = memokit::sandbox();
    let first = squares(&[1, 2, 3]);
    assert_eq!(first, HashMap::from([(1, 1), (2, 4), (3, 9)]));
    // 2 and 3 are cached, 4 is new, 2 is repeated: the body sees [4] only.
    let second = squares(&[2, 3, 4, 2]);
    assert_eq!(second, HashMap::from([(2, 4), (3, 9), (4, 16)]));
    // An id the body leaves out is absent, and asked for again next time.
    assert_eq!(squares(&[13, 1]), HashMap::from([(1, 1)]));
    assert_eq!(squares(&[13]), HashMap::new());
    assert_eq!(*SQUARED.lock().unwrap(), [1, 2, 3, 4, 13, 13]);
    // Each id is its own entry, counted once per call as a hit or a miss.
    assert_eq!(SQUARES_MEMO.len(), 4);
    let stats = SQUARES_MEMO.stats();
    assert_eq!((stats.hits, stats.misses), (3, 6));
    // A call with every id cached runs no body.
    assert_eq!(squares(&[4, 1]).len(), 2);
    assert_eq!(SQUARED.lock().unwrap().len(), 6);
}

static DOUBLED: AtomicU32 = AtomicU32::new(0);

#[cached(batch, ttl = "1m", companion = DOUBLES)]
fn doubles(mut ids: Vec<u32>) -> BTreeMap<u32, u32> {
    DOUBLED.fetch_add(ids.len() as u32, Ordering::SeqCst);
    ids.sort_unstable();
    ids.into_iter().map(|id| (id, id * 2)).collect()
}

#[test]
fn owned_ids_a_btree_map_the_companion_and_the_ttl() {
    let sb = memokit::sandbox();
    assert_eq!(doubles(vec![3, 1]), BTreeMap::from([(1, 2), (3, 6)]));
    assert_eq!(DOUBLED.load(Ordering::SeqCst), 2);
    // The companion works per id: invalidate one, prime another.
    assert!(DOUBLES.invalidate(&3).unwrap());
    DOUBLES.prime(&5, 500).unwrap();
    assert_eq!(
        doubles(vec![1, 3, 5]),
        BTreeMap::from([(1, 2), (3, 6), (5, 500)])
    );
    assert_eq!(DOUBLED.load(Ordering::SeqCst), 3);
    // `uncached` runs the body on every id and stores nothing; `refresh` reloads every id.
    assert_eq!(DOUBLES.uncached(|| doubles(vec![5]))[&5], 10);
    assert_eq!(doubles(vec![5])[&5], 500);
    assert_eq!(DOUBLES.refresh(|| doubles(vec![5]))[&5], 10);
    assert_eq!(doubles(vec![5])[&5], 10);
    assert_eq!(DOUBLED.load(Ordering::SeqCst), 5);
    // The TTL holds per id, on the sandbox's clock.
    sb.advance(Duration::from_secs(61));
    doubles(vec![1, 5]);
    assert_eq!(DOUBLED.load(Ordering::SeqCst), 7);
}

static LOOKUPS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, PartialEq)]
struct Offline;

#[cached(batch)]
fn names(ids: &[u64]) -> Result<HashMap<u64, String>, Offline> {
    LOOKUPS.fetch_add(1, Ordering::SeqCst);
    if ids.contains(&0) {
        return Err(Offline);
    }
    Ok(ids.iter().map(|id| (*id, format!("user {id}"))).collect())
}

#[test]
fn an_err_caches_nothing_and_is_the_answer() {
    let _sb = memokit::sandbox();
    assert_eq!(names(&[0, 1]), Err(Offline));
    assert_eq!(NAMES_MEMO.len(), 0);
    assert_eq!(
        names(&[1]).unwrap(),
        HashMap::from([(1, "user 1".to_string())])
    );
    assert_eq!(names(&[0, 1]), Err(Offline));
    assert_eq!(LOOKUPS.load(Ordering::SeqCst), 3);
    assert_eq!(NAMES_MEMO.len(), 1);
    assert_eq!(NAMES_MEMO.stats().load_failures, 2);
}

/// How many times each id was loaded, across every caller.
static LOADED: Mutex<BTreeMap<u64, u32>> = Mutex::new(BTreeMap::new());

#[cached(batch)]
fn slow_cubes(ids: &[u64]) -> HashMap<u64, u64> {
    {
        let mut loaded = LOADED.lock().unwrap();
        for id in ids {
            *loaded.entry(*id).or_default() += 1;
        }
    }
    // Long enough for the other batches to arrive while this one runs.
    thread::sleep(Duration::from_millis(20));
    ids.iter().map(|&id| (id, id * id * id)).collect()
}

/// Runs `call(t)` for `t` in `0..threads`, each on its own thread inside `sandbox`, all at once.
fn at_once(threads: usize, sandbox: &memokit::SandboxHandle, call: impl Fn(u64) + Sync) {
    let start = Barrier::new(threads);
    thread::scope(|s| {
        for t in 0..threads {
            let (start, call) = (&start, &call);
            s.spawn(move || {
                let _in = sandbox.enter();
                start.wait();
                call(t as u64);
            });
        }
    });
}

#[test]
fn overlapping_concurrent_batches_load_each_id_once() {
    let sb = memokit::sandbox();
    at_once(8, &sb.handle(), |t| {
        // Batch t asks for ids 10t..10t+30: each id is in up to three batches.
        let ids: Vec<u64> = (t * 10..t * 10 + 30).collect();
        let got = slow_cubes(&ids);
        assert_eq!(got.len(), 30);
        assert!(ids.iter().all(|id| got[id] == id * id * id));
    });
    let loaded = LOADED.lock().unwrap();
    assert_eq!(loaded.len(), 100);
    assert!(loaded.values().all(|&n| n == 1), "{loaded:?}");
}

static FAILING: AtomicU32 = AtomicU32::new(0);

#[cached(batch)]
fn always_offline(ids: &[u64]) -> Result<HashMap<u64, u64>, Offline> {
    FAILING.fetch_add(1, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(5));
    let _ = ids;
    Err(Offline)
}

#[test]
fn every_caller_waiting_on_a_failing_batch_gets_an_err() {
    const THREADS: usize = 8;
    let sb = memokit::sandbox();
    at_once(THREADS, &sb.handle(), |_| {
        assert_eq!(always_offline(&[1, 2, 3]), Err(Offline));
    });
    // Waiters retry one at a time (as single-key followers do), never all at once, and nothing
    // is cached.
    let runs = FAILING.load(Ordering::SeqCst) as usize;
    assert!((1..=THREADS).contains(&runs), "{runs} runs");
    assert_eq!(ALWAYS_OFFLINE_MEMO.len(), 0);
}

struct Directory {
    suffix: &'static str,
    asked: AtomicU32,
}

impl Directory {
    #[cached(batch)]
    async fn emails(&self, ids: &[u32]) -> Result<HashMap<u32, String>, Offline> {
        self.asked.fetch_add(ids.len() as u32, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(ids
            .iter()
            .map(|id| (*id, format!("{id}@{}", self.suffix)))
            .collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_method_batches_overlap_without_loading_twice() {
    let sb = memokit::sandbox();
    let sandbox = sb.handle();
    let directory = std::sync::Arc::new(Directory {
        suffix: "example.org",
        asked: AtomicU32::new(0),
    });
    let tasks: Vec<_> = (0..4u32)
        .map(|t| {
            let directory = directory.clone();
            let sandbox = sandbox.clone();
            tokio::spawn(sandbox.wrap(async move {
                let ids: Vec<u32> = (t * 5..t * 5 + 10).collect();
                directory.emails(&ids).await
            }))
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().len(), 10);
    }
    assert_eq!(directory.asked.load(Ordering::SeqCst), 25);
    assert_eq!(
        directory.emails(&[0, 24]).await.unwrap()[&24],
        "24@example.org"
    );
    assert_eq!(directory.asked.load(Ordering::SeqCst), 25);
}

#[cached(batch)]
fn self_asking(ids: &[u64]) -> HashMap<u64, u64> {
    // Asks for an id this very call is loading.
    if ids.contains(&1) {
        self_asking(&[1]);
    }
    ids.iter().map(|&id| (id, id)).collect()
}

#[test]
#[should_panic(expected = "asked this cache for that same key")]
fn a_batch_asking_for_an_id_it_is_loading_panics_instead_of_hanging() {
    let _sb = memokit::sandbox();
    self_asking(&[1, 2]);
}

#[cached(batch)]
async fn self_asking_async(ids: Vec<u64>) -> HashMap<u64, u64> {
    if ids.contains(&1) {
        Box::pin(self_asking_async(vec![1])).await;
    }
    ids.into_iter().map(|id| (id, id)).collect()
}

#[tokio::test]
#[should_panic(expected = "asked this cache for that same key")]
async fn an_async_batch_asking_for_an_id_it_is_loading_panics_instead_of_hanging() {
    let _sb = memokit::sandbox();
    self_asking_async(vec![1, 2]).await;
}
