use memokit::cached;
use std::sync::atomic::{AtomicU32, Ordering};
static RUNS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = "10m", capacity = 100)]
fn greet(name: &str, n: u32) -> String {
    RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{name}{n}")
}

#[cached]
fn maybe(x: u64) -> Result<u64, String> {
    if x > 0 { Ok(x) } else { Err("zero".into()) }
}

#[cached]
async fn slow(x: u64) -> u64 {
    x + 1
}

struct Repo;
impl Repo {
    #[cached]
    fn find(&self, id: u64) -> Option<String> {
        Some(id.to_string())
    }
}

#[test]
fn smoke() {
    assert_eq!(greet("a", 1), "a1");
    assert_eq!(greet("a", 1), "a1");
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(GREET.stats().hits, 1);
    assert_eq!(maybe(0), Err("zero".into()));
    assert_eq!(MAYBE.len(), 0);
    assert_eq!(Repo.find(3), Some("3".into()));
    assert_eq!(Repo::FIND.len(), 1);
}

#[tokio::test]
async fn smoke_async() {
    assert_eq!(slow(1).await, 2);
    assert_eq!(slow(1).await, 2);
    assert_eq!(SLOW.stats().hits, 1);
}
