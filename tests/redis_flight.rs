//! Single flight across processes (`flight = "distributed"`): many processes missing one cold key
//! run the body once, a killed holder is taken over, and a dead Redis still answers every caller.
//!
//! The processes are this test binary run again with [`ROLE`] set: the parent starts a private
//! `redis-server`, then its children, and counts the bodies that ran in a file each body appends
//! a line to (appends of one short line are atomic across processes).

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use memokit::{Cache, CacheError, RedisBackend, RedisOptions, cached};
use redis_server::RedisServer;

/// The child's role; unset in the parent.
const ROLE: &str = "MEMOKIT_TEST_FLIGHT_ROLE";
/// The folder the processes meet in: the runs file, and the ready and go files.
const DIR: &str = "MEMOKIT_TEST_FLIGHT_DIR";

const PROCESSES: usize = 4;
const CALLERS: usize = 32;

/// The parent's meeting place and server, when the parent calls a flight function itself (a child
/// reads both from its environment).
static FOLDER: OnceLock<PathBuf> = OnceLock::new();
static URL: OnceLock<String> = OnceLock::new();

fn folder() -> PathBuf {
    FOLDER
        .get()
        .cloned()
        .unwrap_or_else(|| PathBuf::from(std::env::var(DIR).expect("the test's folder")))
}

fn url() -> String {
    URL.get()
        .cloned()
        .unwrap_or_else(|| std::env::var(RedisOptions::URL_ENV).expect("the parent's server"))
}

/// Appends one line naming this process to the runs file: one body ran.
fn ran() {
    let mut runs = OpenOptions::new()
        .create(true)
        .append(true)
        .open(folder().join("runs"))
        .unwrap();
    runs.write_all(format!("{}\n", std::process::id()).as_bytes())
        .unwrap();
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .map(|runs| runs.lines().count())
        .unwrap_or(0)
}

// The sync and the async function share one cache name, so they share the key's lease in Redis:
// each process has two leaders (one per function), and all of them run one body in total.
#[cached(backend = redis, url = url(), name = "flight::cold", flight = "distributed", flight_lease = "1s")]
fn cold(x: u64) -> u64 {
    ran();
    std::thread::sleep(Duration::from_millis(300));
    x * 2
}

#[cached(backend = redis, url = url(), name = "flight::cold", flight = "distributed", flight_lease = "1s")]
async fn cold_async(x: u64) -> u64 {
    ran();
    tokio::time::sleep(Duration::from_millis(300)).await;
    x * 2
}

/// Its body never ends in the holder (which is killed in it) and is quick anywhere else.
#[cached(backend = redis, url = url(), name = "flight::slow", flight = "distributed", flight_lease = "1s")]
fn slow(x: u64) -> u64 {
    ran();
    if std::env::var(ROLE).as_deref() == Ok("holder") {
        std::thread::sleep(Duration::from_secs(60));
    }
    x + 1
}

/// A folder of the test's own under the system's temporary folder.
fn meeting_place(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("memokit-flight-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs this test binary's `test` again as a child with `role`, reaching `server`.
fn child(test: &str, role: &str, server: &RedisServer, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(ROLE, role)
        .env(DIR, dir)
        .env(RedisOptions::URL_ENV, server.url())
        .spawn()
        .unwrap()
}

/// A child killed (`SIGKILL`) when the test is done with it, or fails before.
struct Killed(Child);

impl Killed {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits (10 s at most) until `done` holds.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A child of the cold-key test: says it is ready, waits for the go, then misses one key from
/// 32 callers at once, half through the sync function, half through the async one.
fn cold_callers() {
    let dir = folder();
    std::fs::write(dir.join(format!("ready-{}", std::process::id())), "").unwrap();
    until("the go", || dir.join("go").exists());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Arc::new(Barrier::new(CALLERS / 2 + 1));
    let threads: Vec<_> = (0..CALLERS / 2)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                assert_eq!(cold(21), 42);
            })
        })
        .collect();
    start.wait();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..CALLERS / 2)
            .map(|_| tokio::spawn(cold_async(21)))
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 42);
        }
    });
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn four_processes_of_32_callers_run_a_cold_key_once() {
    const TEST: &str = "four_processes_of_32_callers_run_a_cold_key_once";
    if std::env::var_os(ROLE).is_some() {
        return cold_callers();
    }
    let Some(server) = RedisServer::start() else {
        return;
    };
    let dir = meeting_place("cold");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| child(TEST, "callers", &server, &dir))
        .collect();
    until("every child to be ready", || {
        std::fs::read_dir(&dir).unwrap().count() == PROCESSES
    });
    std::fs::write(dir.join("go"), "").unwrap();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child failed");
    }
    assert_eq!(
        runs(&dir),
        1,
        "{PROCESSES} processes of {CALLERS} callers ran the body once"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_killed_holder_is_taken_over_within_the_lease() {
    const TEST: &str = "a_killed_holder_is_taken_over_within_the_lease";
    if std::env::var(ROLE).as_deref() == Ok("holder") {
        slow(65);
        unreachable!("the holder is killed inside the body");
    }
    let Some(server) = RedisServer::start() else {
        return;
    };
    let dir = meeting_place("holder");
    let mut holder = Killed(child(TEST, "holder", &server, &dir));
    until("the holder's body to start", || runs(&dir) == 1);

    // Past one lease period, the lease is still there: the holder renews it. (`65` is the key
    // 65 as Redis keys write integers.)
    std::thread::sleep(Duration::from_millis(1_500));
    let left = server.command("PTTL memokit:12:flight::slow:global.lease:65");
    let left: i64 = left.trim().trim_start_matches(':').parse().unwrap();
    assert!(left > 0, "the holder's lease was renewed, {left} ms left");

    // This process waits for the key too, reaching the same server and folder as the holder.
    URL.set(server.url()).unwrap();
    FOLDER.set(dir.clone()).unwrap();
    let waiter = std::thread::spawn(|| slow(65));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(runs(&dir), 1, "the waiter waits while the holder lives");

    holder.kill();
    let killed = Instant::now();
    assert_eq!(waiter.join().unwrap(), 66);
    let took = killed.elapsed();
    assert_eq!(
        runs(&dir),
        2,
        "the waiter ran the body once the holder died"
    );
    // The lease runs out at most 1 s after the kill; anything near the holder's 60 s would
    // mean the waiter did not take over.
    assert!(took < Duration::from_secs(5), "took over after {took:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A port nothing listens on.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("redis://{}", listener.local_addr().unwrap())
}

static DEAD_URL: OnceLock<String> = OnceLock::new();

#[cached(backend = redis, url = DEAD_URL.get_or_init(dead_url).clone(), flight = "distributed", flight_lease = "1s")]
fn without_redis(x: u64) -> u64 {
    x * 3
}

#[cached(backend = redis, url = DEAD_URL.get_or_init(dead_url).clone(), flight = "distributed", flight_lease = "1s")]
async fn without_redis_async(x: u64) -> u64 {
    x * 3
}

#[test]
fn with_redis_down_every_caller_still_gets_a_value() {
    let start = Arc::new(Barrier::new(CALLERS));
    let threads: Vec<_> = (0..CALLERS)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                without_redis(5)
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 15);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..CALLERS)
            .map(|_| tokio::spawn(without_redis_async(5)))
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 15);
        }
    });
}

#[test]
fn the_flight_is_checked_when_the_cache_is_built() {
    let local = Cache::<u8, u8>::builder("flight::local")
        .distributed_flight(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert!(matches!(
        local,
        CacheError::Config {
            setting: "flight",
            ..
        }
    ));
    assert!(local.to_string().contains("flight::local"), "{local}");
    let zero = Cache::<u8, u8, RedisBackend>::builder("flight::zero")
        .distributed_flight(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(
        zero,
        CacheError::Config {
            setting: "flight_lease",
            ..
        }
    ));
}
