//! [`DiskOptions`]: which file a disk cache lives in and how hard each write is pushed to it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codec::{Codec, Postcard};

/// How far a write has gone when the call that made it returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Every write commits with an fsync: once the call returns, the write survives a crash of
    /// the process or the machine. The default. Costs one fsync per write call (a batch or a
    /// transaction is one call).
    #[default]
    Durable,
    /// Writes commit to memory and reach the disk with the next durable commit, which the backend
    /// makes every [`DiskOptions::FAST_SYNC_EVERY`] writes and when the cache is dropped. A crash
    /// loses the writes since the last durable commit and never corrupts the file: on restart the
    /// cache holds a consistent earlier state.
    Fast,
}

/// Options of the disk backend, given to
/// [`CacheBuilder::backend_options`](crate::CacheBuilder::backend_options) (or returned by a
/// cache module's `config` function). The path has no default: a cache that survives restarts
/// must say where it lives, and a build without one is a
/// [`CacheError::Config`](crate::CacheError::Config) naming `path`.
///
/// ```
/// use memokit_core::{DiskOptions, Durability};
///
/// let options = DiskOptions::new("target/caches/users.redb").durability(Durability::Fast);
/// assert_eq!(options.path_value(), Some(std::path::Path::new("target/caches/users.redb")));
/// ```
#[derive(Clone)]
pub struct DiskOptions {
    pub(crate) path: Option<PathBuf>,
    pub(crate) durability: Durability,
    pub(crate) codec: Arc<dyn Codec>,
}

impl DiskOptions {
    /// In [`Durability::Fast`] mode, one write commit in this many is durable.
    pub const FAST_SYNC_EVERY: u64 = 1024;

    /// The options of a cache stored in the file at `path` (created, with its parent
    /// folders, if missing), durable, with the [`Postcard`] codec.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: Some(path.into()),
            ..Self::default()
        }
    }

    /// The file the cache lives in.
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// How far each write goes before its call returns (default [`Durability::Durable`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The value codec (default [`Postcard`]); keys are always postcard.
    pub fn codec(mut self, codec: impl Codec) -> Self {
        self.codec = Arc::new(codec);
        self
    }

    /// The path set, if any.
    pub fn path_value(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl Default for DiskOptions {
    /// No path (a build fails until one is set), durable, postcard.
    fn default() -> Self {
        Self {
            path: None,
            durability: Durability::Durable,
            codec: Arc::new(Postcard),
        }
    }
}

impl std::fmt::Debug for DiskOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskOptions")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .field("codec", &self.codec.name())
            .finish()
    }
}
