//! `#[cached]` stacked with `#[tracing::instrument]`, in both orders, sync and async.

use memokit::cached;

#[cached]
#[tracing::instrument]
fn above(id: u32) -> u32 {
    tracing::info!(id, "computing");
    id * 2
}

#[tracing::instrument]
#[cached(ttl = "1m")]
fn below(id: u32) -> u32 {
    id * 3
}

#[cached]
#[tracing::instrument(skip(name))]
async fn above_async(name: &str) -> usize {
    name.len()
}

struct Service;

impl Service {
    #[tracing::instrument(skip(self))]
    #[cached]
    fn method(&self, id: u32) -> u32 {
        id + 1
    }
}

fn main() {
    assert_eq!(above(2), 4);
    assert_eq!(above(2), 4);
    assert_eq!(ABOVE_MEMO.stats().hits, 1);
    assert_eq!(below(2), 6);
    assert_eq!(below(2), 6);
    assert_eq!(BELOW_MEMO.stats().hits, 1);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(above_async("abc")), 3);
    assert_eq!(runtime.block_on(above_async("abc")), 3);
    assert_eq!(ABOVE_ASYNC_MEMO.stats().hits, 1);
    assert_eq!(Service.method(1), 2);
    assert_eq!(Service::METHOD_MEMO.len(), 1);
}
