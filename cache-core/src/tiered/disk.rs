//! The disk backend as the second layer. Its file has one owner (redb locks it), so every write
//! to it is this process's own, which drops the key from the first layer itself: there is nothing
//! to listen to, and the first layer fills from the start.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::Timed;
use crate::bounds::{CacheKey, CacheValue};
use crate::disk::DiskBackend;
use crate::error::BackendError;
use crate::key::Lookup;

use super::backend::{SecondLayer, sealed};
use super::coherence::Coherence;

impl sealed::Sealed for DiskBackend {}

impl<K, V> SecondLayer<K, V> for DiskBackend
where
    K: CacheKey + Serialize + DeserializeOwned,
    V: CacheValue + Serialize + DeserializeOwned,
{
    fn get_timed<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Timed<V>>, BackendError> {
        Ok(self.get_many_timed::<K, V, Q>(&[key])?.pop().flatten())
    }

    fn get_timed_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<Timed<V>>, BackendError>> + Send {
        // Encoded, and the clock read, now: the caller's sandbox is this thread's.
        let read = timed_async::<K, V, Q>(self, &[key]);
        async move { Ok(read.await?.pop().flatten()) }
    }

    fn get_many_timed<Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Option<Timed<V>>>, BackendError> {
        DiskBackend::get_many_timed::<K, V, Q>(self, keys)
    }

    fn get_many_timed_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<Vec<Option<Timed<V>>>, BackendError>> + Send {
        timed_async::<K, V, Q>(self, keys)
    }

    /// No other process writes the file, so no view is ever named by an invalidation.
    fn view_tag(&self) -> Box<[u8]> {
        Box::default()
    }

    fn listen(
        &self,
        coherence: &Arc<Coherence<K, V>>,
        _heartbeat: Duration,
    ) -> Result<(), BackendError> {
        coherence.hearing();
        Ok(())
    }
}

/// The disk backend's [`get_many_timed`](DiskBackend::get_many_timed) as a future that borrows
/// nothing: on the blocking pool with feature `tokio`; without it, run on the calling thread
/// now, as every async form of the disk backend is.
fn timed_async<K, V, Q>(
    disk: &DiskBackend,
    keys: &[&Q],
) -> impl Future<Output = Result<Vec<Option<Timed<V>>>, BackendError>> + Send + use<K, V, Q>
where
    K: CacheKey + Serialize,
    V: CacheValue + DeserializeOwned,
    Q: ?Sized + Lookup<K>,
{
    #[cfg(feature = "tokio")]
    let read = disk.get_many_timed_async::<K, V, Q>(keys);
    #[cfg(not(feature = "tokio"))]
    let read = std::future::ready(disk.get_many_timed::<K, V, Q>(keys));
    read
}
