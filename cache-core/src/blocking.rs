//! Blocking work (a disk transaction and its fsync, a snapshot file) called from async code:
//! moved to Tokio's blocking pool so it never holds a runtime worker.
//!
//! One helper for every async form that does file work, the disk backend's and
//! [`save_async`](crate::Cache::save_async) / [`restore_async`](crate::Cache::restore_async)'s,
//! so they behave alike: inside a runtime (either flavour) the work runs on the blocking pool
//! and the caller's task waits for it; outside one there is no worker to protect and it runs on
//! the calling thread. The work must be `'static`: whatever context it needs (encoded keys, the
//! time now, a sandbox) is captured by the caller before it moves.

use tokio::task::JoinError;

use crate::error::{BackendError, BackendErrorKind};

/// Runs `f` on Tokio's blocking pool inside a runtime, else on this thread. `Err` if the
/// blocking task panicked or the runtime shut down before running it.
pub(crate) async fn offload<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JoinError> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime.spawn_blocking(f).await,
        Err(_) => Ok(f()),
    }
}

/// [`offload`] of a backend's work: a blocking task that failed is an error of `backend`.
pub(crate) async fn offload_backend<T: Send + 'static>(
    backend: &'static str,
    f: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, BackendError> {
    offload(f).await.unwrap_or_else(|e| {
        Err(BackendError::new(
            backend,
            BackendErrorKind::Other,
            format_args!("the blocking task of a {backend} operation failed: {e}"),
        ))
    })
}
