//! The disk backend as the second layer. Its file has one owner (redb locks it), so every write
//! to it is this process's own, which drops the key from the first layer itself: there is nothing
//! to listen to, and the first layer fills from the start.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bounds::{CacheKey, CacheValue};
use crate::disk::DiskBackend;
use crate::error::BackendError;

use super::backend::{SecondLayer, sealed};
use super::coherence::Coherence;

impl sealed::Sealed for DiskBackend {}

impl<K, V> SecondLayer<K, V> for DiskBackend
where
    K: CacheKey + Serialize + DeserializeOwned,
    V: CacheValue + Serialize + DeserializeOwned,
{
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
