//! Leases on a real server: one holder per key and namespace, renewals and releases by the
//! holder's token only, and releases heard by a waiter, sync and async.

use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::backend::lease::{Leases, Taken};
use crate::context::Namespace;
use crate::{Cache, RedisBackend, RedisOptions};

use super::tests::redis_server::RedisServer;

const PERIOD: Duration = Duration::from_secs(5);
/// Far longer than a release takes to arrive, so a wait that ends before it heard the release.
const WAKE: Duration = Duration::from_secs(5);

fn backend(server: &RedisServer) -> RedisBackend {
    let cache: Cache<u32, u32, RedisBackend> = Cache::builder("leases")
        .backend_options(RedisOptions::new().url(server.url()))
        .build()
        .unwrap();
    cache.backend().unwrap().clone()
}

fn leases(backend: &RedisBackend) -> &dyn Leases<u32> {
    Backend::<u32, u32>::leases(backend).expect("Redis has leases")
}

#[test]
fn one_token_holds_a_lease_and_its_release_wakes_a_waiter() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let backend = backend(&server);
    let (holder, other) = (
        leases(&backend).lease(&1, PERIOD).unwrap(),
        leases(&backend).lease(&1, PERIOD).unwrap(),
    );
    assert_eq!(holder.take().unwrap(), Taken::Won);
    let Taken::Held { left } = other.take().unwrap() else {
        panic!("a second token took a held lease");
    };
    assert!(left <= PERIOD && !left.is_zero(), "{left:?} left");
    assert!(!other.renew().unwrap(), "only the holder renews");
    other.release().unwrap();
    assert!(
        matches!(other.take().unwrap(), Taken::Held { .. }),
        "only the holder releases"
    );
    assert!(holder.renew().unwrap());

    let mut watch = other.watch().unwrap();
    assert!(
        !watch.wait(Duration::from_millis(20)).unwrap(),
        "nothing was released yet"
    );
    holder.release().unwrap();
    let asked = Instant::now();
    assert!(watch.wait(WAKE).unwrap(), "the release was heard");
    assert!(asked.elapsed() < WAKE);
    assert_eq!(other.take().unwrap(), Taken::Won);

    // Another key, and the same key in a sandbox's namespace, have leases of their own.
    let sandbox = Backend::<u32, u32>::scoped(&backend, Namespace(1)).unwrap();
    assert_eq!(
        leases(&backend).lease(&2, PERIOD).unwrap().take().unwrap(),
        Taken::Won
    );
    assert_eq!(
        leases(&sandbox).lease(&1, PERIOD).unwrap().take().unwrap(),
        Taken::Won
    );
}

#[tokio::test]
async fn async_leases_behave_alike() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let backend = backend(&server);
    let (holder, other) = (
        leases(&backend).lease(&1, PERIOD).unwrap(),
        leases(&backend).lease(&1, PERIOD).unwrap(),
    );
    assert_eq!(holder.take_async().await.unwrap(), Taken::Won);
    assert!(matches!(
        other.take_async().await.unwrap(),
        Taken::Held { .. }
    ));
    assert!(!other.renew_async().await.unwrap());
    assert!(holder.renew_async().await.unwrap());
    let mut watch = other.watch_async().await.unwrap();
    assert!(!watch.wait(Duration::from_millis(20)).await.unwrap());
    holder.release_async().await.unwrap();
    assert!(watch.wait(WAKE).await.unwrap(), "the release was heard");
    assert_eq!(other.take_async().await.unwrap(), Taken::Won);
}
