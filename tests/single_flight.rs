//! Single flight: concurrent misses on one key run the body once, failures release the waiters,
//! cancellation and panics never strand anyone, and recursion reports instead of hanging.
//!
//! Concurrency is made deterministic without sleeps: a body waits until the cache has counted
//! every caller's miss, so all of them are known to be queued behind it before it returns.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use memokit::{Cache, CacheError, LoadError, cached};
use support::{panic_message, wait_until, wait_until_async, within_deadline};

const CALLERS: usize = 256;

static THREAD_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn cold_for_threads(key: u32) -> u64 {
    THREAD_RUNS.fetch_add(1, Ordering::SeqCst);
    wait_until("every caller to miss", || {
        COLD_FOR_THREADS_MEMO.stats().misses >= CALLERS as u64
    });
    u64::from(key) * 2
}

#[test]
fn threads_on_one_cold_key_run_the_body_once() {
    let results = within_deadline(|| {
        let start = Arc::new(Barrier::new(CALLERS));
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    cold_for_threads(21)
                })
            })
            .collect();
        callers
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    })
    .unwrap();
    assert_eq!(results, vec![42; CALLERS]);
    assert_eq!(THREAD_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(COLD_FOR_THREADS_MEMO.stats().loads, 1);
}

static TASK_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
async fn cold_for_tasks(key: u32) -> u64 {
    TASK_RUNS.fetch_add(1, Ordering::SeqCst);
    wait_until_async("every task to miss", || {
        COLD_FOR_TASKS_MEMO.stats().misses >= CALLERS as u64
    })
    .await;
    u64::from(key) * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_on_one_cold_key_run_the_body_once() {
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| tokio::spawn(cold_for_tasks(21)))
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 42);
    }
    assert_eq!(TASK_RUNS.load(Ordering::SeqCst), 1);
}

#[test]
fn cache_get_or_insert_with_runs_the_loader_once_per_key() {
    let cache: Cache<u32, String> = Cache::builder("flight-cache-api").build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let callers = 64;
    let values = within_deadline({
        let cache = cache.clone();
        let runs = runs.clone();
        move || {
            let threads: Vec<_> = (0..callers)
                .map(|_| {
                    let (cache, runs) = (cache.clone(), runs.clone());
                    thread::spawn(move || {
                        cache.get_or_insert_with(7, || {
                            runs.fetch_add(1, Ordering::SeqCst);
                            wait_until("every caller to miss", || cache.stats().misses >= callers);
                            "seven".to_string()
                        })
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap().unwrap())
                .collect::<Vec<_>>()
        }
    })
    .unwrap();
    assert!(values.iter().all(|v| v == "seven"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn different_keys_never_wait_on_each_other() {
    let cache: Cache<u32, u32> = Cache::builder("flight-independent-keys").build().unwrap();
    let (second_done, wait_second) = mpsc::channel();
    let got = within_deadline({
        let cache = cache.clone();
        move || {
            let first = {
                let cache = cache.clone();
                // Key 1's loader cannot finish until key 2 has been loaded beside it.
                thread::spawn(move || {
                    cache.get_or_insert_with(1, || {
                        wait_second.recv().unwrap();
                        10
                    })
                })
            };
            let second = cache.get_or_insert_with(2, || 20).unwrap();
            second_done.send(()).unwrap();
            (first.join().unwrap().unwrap(), second)
        }
    })
    .unwrap();
    assert_eq!(got, (10, 20));
}

static PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);
const WAITERS: usize = 32;

#[cached]
fn panics_first(key: u32) -> u32 {
    if PANIC_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        wait_until("the waiters to queue", || {
            PANICS_FIRST_MEMO.stats().misses > WAITERS as u64
        });
        panic!("the first load fails");
    }
    key + 1
}

#[test]
fn a_panicking_body_releases_its_waiters_and_poisons_nothing() {
    let outcomes = within_deadline(|| {
        let start = Arc::new(Barrier::new(WAITERS + 1));
        let callers: Vec<_> = (0..=WAITERS)
            .map(|_| {
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    panics_first(1)
                })
            })
            .collect();
        callers.into_iter().map(|t| t.join()).collect::<Vec<_>>()
    })
    .unwrap();
    let panicked: Vec<_> = outcomes.iter().filter(|o| o.is_err()).collect();
    assert_eq!(
        panicked.len(),
        1,
        "only the panicking body's caller sees it"
    );
    assert_eq!(
        panic_message(panicked[0].as_ref().unwrap_err().as_ref()),
        "the first load fails"
    );
    assert!(outcomes.iter().flatten().all(|&v| v == 2));
    assert_eq!(PANIC_RUNS.load(Ordering::SeqCst), 2, "one waiter took over");
    let stats = PANICS_FIRST_MEMO.stats();
    assert_eq!((stats.loads, stats.load_failures), (1, 1));
    // Still usable: a hit, and a fresh key loads.
    assert_eq!(panics_first(1), 2);
    assert_eq!(panics_first(5), 6);
}

static ASYNC_PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
async fn panics_first_async(key: u32) -> u32 {
    if ASYNC_PANIC_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        wait_until_async("the waiters to queue", || {
            PANICS_FIRST_ASYNC_MEMO.stats().misses > WAITERS as u64
        })
        .await;
        panic!("the first async load fails");
    }
    key + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_releases_its_waiters() {
    let tasks: Vec<_> = (0..=WAITERS)
        .map(|_| tokio::spawn(panics_first_async(1)))
        .collect();
    let mut panicked = 0;
    for task in tasks {
        match tokio::time::timeout(support::DEADLINE, task).await {
            Ok(Ok(v)) => assert_eq!(v, 2),
            Ok(Err(e)) => {
                assert!(e.is_panic());
                panicked += 1;
            }
            Err(_) => panic!("a waiter was stranded"),
        }
    }
    assert_eq!(panicked, 1);
    assert_eq!(ASYNC_PANIC_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(panics_first_async(1).await, 2);
}

static ERR_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn fails_first(key: u32) -> Result<u32, String> {
    if ERR_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        wait_until("the waiters to queue", || {
            FAILS_FIRST_MEMO.stats().misses >= 9
        });
        return Err("backend down".to_string());
    }
    Ok(key * 10)
}

#[test]
fn an_error_goes_to_its_own_caller_and_a_waiter_retries() {
    let outcomes = within_deadline(|| {
        let callers: Vec<_> = (0..9).map(|_| thread::spawn(|| fails_first(3))).collect();
        callers
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    })
    .unwrap();
    let errors = outcomes.iter().filter(|o| o.is_err()).count();
    assert_eq!(errors, 1);
    assert!(outcomes.iter().flatten().all(|&v| v == 30));
    assert_eq!(ERR_RUNS.load(Ordering::SeqCst), 2);
}

#[test]
fn errors_are_not_cached() {
    let cache: Cache<u32, u32> = Cache::builder("flight-errors").build().unwrap();
    let failed = cache.try_get_or_insert_with(1, || Err::<u32, _>("no"));
    assert!(matches!(failed, Err(LoadError::Load("no"))));
    assert_eq!(cache.get(&1).unwrap(), None);
    assert_eq!(
        cache
            .try_get_or_insert_with(1, || Ok::<_, &str>(5))
            .unwrap(),
        5
    );
    assert_eq!(cache.get(&1).unwrap(), Some(5));
}

/// A cache whose first load never finishes, to be cancelled from outside; later loads give 100.
struct Hang {
    cache: Cache<u32, u32>,
    runs: AtomicUsize,
}

impl Hang {
    fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            cache: Cache::builder(name).build().unwrap(),
            runs: AtomicUsize::new(0),
        })
    }

    async fn load(self: Arc<Self>) -> u32 {
        let this = self.clone();
        let body = async move {
            if this.runs.fetch_add(1, Ordering::SeqCst) == 0 {
                std::future::pending::<()>().await;
            }
            100
        };
        self.cache.get_or_insert_with_async(1, body).await.unwrap()
    }

    /// Spawns waiters once the leader's body runs, so they queue behind it.
    async fn queue_waiters(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<u32>> {
        wait_until_async("the leader's body", || {
            self.runs.load(Ordering::SeqCst) == 1
        })
        .await;
        (0..8).map(|_| tokio::spawn(self.clone().load())).collect()
    }

    /// Every waiter got the value of the load that took over; nothing was stranded.
    async fn check_handover(&self, waiters: Vec<tokio::task::JoinHandle<u32>>) {
        for waiter in waiters {
            let got = tokio::time::timeout(support::DEADLINE, waiter).await;
            assert_eq!(got.expect("a waiter was stranded").unwrap(), 100);
        }
        assert_eq!(self.runs.load(Ordering::SeqCst), 2);
        let stats = self.cache.stats();
        assert_eq!((stats.loads, stats.load_failures), (1, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cancelled_by_timeout_hands_the_load_to_a_waiter() {
    let hang = Hang::new("flight-timeout");
    let leader = tokio::spawn(tokio::time::timeout(
        Duration::from_millis(20),
        hang.clone().load(),
    ));
    let waiters = hang.queue_waiters().await;
    assert!(leader.await.unwrap().is_err(), "the leader timed out");
    hang.check_handover(waiters).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_dropped_by_select_hands_the_load_to_a_waiter() {
    let hang = Hang::new("flight-select");
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let leader = tokio::spawn({
        let hang = hang.clone();
        async move {
            tokio::select! {
                v = hang.load() => Some(v),
                _ = cancelled => None,
            }
        }
    });
    let waiters = hang.queue_waiters().await;
    wait_until_async("the waiters to miss", || hang.cache.stats().misses > 8).await;
    cancel.send(()).unwrap();
    assert_eq!(leader.await.unwrap(), None, "the leader was dropped");
    hang.check_handover(waiters).await;
}

#[cached]
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

#[test]
fn memoized_recursion_over_different_keys_works() {
    let got = within_deadline(|| fib(90)).unwrap();
    assert_eq!(got, 2_880_067_194_370_816_120);
    assert_eq!(FIB_MEMO.stats().loads, 91);
}

#[cached]
async fn fib_async(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        Box::pin(fib_async(n - 1)).await + Box::pin(fib_async(n - 2)).await
    }
}

#[tokio::test]
async fn async_memoized_recursion_over_different_keys_works() {
    // 90 nested memoized futures polled on the test thread's 2 MiB stack: the distributed flight's
    // arm of the miss path is out of line and boxed, so it adds nothing to each level's frame.
    assert_eq!(fib_async(90).await, 2_880_067_194_370_816_120);
}

#[cached]
fn same_key_again(n: u64) -> u64 {
    same_key_again(n) + 1
}

#[test]
fn same_key_recursion_panics_naming_the_function() {
    let payload = within_deadline(|| same_key_again(3)).unwrap_err();
    let message = panic_message(payload.as_ref());
    assert!(
        message.contains("single_flight::same_key_again") && message.contains("same arguments"),
        "{message}"
    );
    // The failed flight left nothing behind: the key is free again.
    assert_eq!(SAME_KEY_AGAIN_MEMO.cache().unwrap().get(&3).unwrap(), None);
}

#[cached]
async fn same_key_again_async(n: u64) -> u64 {
    Box::pin(same_key_again_async(n)).await + 1
}

#[test]
fn same_key_recursion_in_a_task_panics_instead_of_hanging() {
    let payload = within_deadline(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(same_key_again_async(4))
    })
    .unwrap_err();
    let message = panic_message(payload.as_ref());
    assert!(message.contains("same_key_again_async"), "{message}");
}

#[test]
fn same_key_recursion_through_a_cache_is_an_error() {
    let cache: Cache<u32, u32> = Cache::builder("flight-recursion").build().unwrap();
    let inner = within_deadline({
        let cache = cache.clone();
        move || {
            let mut inner = None;
            let outer = cache.get_or_insert_with(1, || {
                inner = Some(cache.get_or_insert_with(1, || 2));
                3
            });
            (outer.unwrap(), inner.unwrap())
        }
    })
    .unwrap();
    assert_eq!(inner.0, 3, "the outer load still completes");
    let error = inner.1.unwrap_err();
    assert!(matches!(error, CacheError::Recursion { .. }));
    assert!(error.to_string().starts_with("cache `flight-recursion`: "));
}

static UNSHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(sync = false)]
fn unshared(key: u32) -> u32 {
    UNSHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    wait_until("every caller to miss", || UNSHARED_MEMO.stats().misses >= 8);
    key
}

#[test]
fn sync_false_lets_every_miss_run_the_body() {
    let results = within_deadline(|| {
        let callers: Vec<_> = (0..8).map(|_| thread::spawn(|| unshared(9))).collect();
        callers
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    })
    .unwrap();
    assert_eq!(results, vec![9; 8]);
    assert_eq!(UNSHARED_RUNS.load(Ordering::SeqCst), 8);
    assert_eq!(unshared(9), 9, "the result is still cached");
    assert_eq!(UNSHARED_RUNS.load(Ordering::SeqCst), 8);
}
