//! Errors are values: a backend that fails returns a [`BackendError`], and the cache
//! wraps it in a [`CacheError`] that names the cache, so a log line says which cache broke.

use std::error::Error;
use std::fmt;
#[cfg(feature = "snapshot")]
use std::io;
#[cfg(feature = "snapshot")]
use std::path::Path;
use std::sync::Arc;

/// What went wrong inside a backend, coarse enough to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// The operation did not finish within its timeout.
    Timeout,
    /// The backend could not be reached (connection refused, closed, DNS).
    Unavailable,
    /// A stored value or key could not be encoded or decoded.
    Codec,
    /// The backend rejected its configuration.
    Config,
    /// The backend cannot do this operation (such as
    /// [`Backend::purge_expired`](crate::Backend::purge_expired) on a store that expires entries
    /// itself and does not say which).
    Unsupported,
    /// The backend answered something unexpected.
    Protocol,
    /// Anything else.
    Other,
}

impl BackendErrorKind {
    /// The kind as one lowercase word (`"timeout"`, `"unavailable"`, `"codec"`, `"config"`,
    /// `"unsupported"`, `"protocol"`, `"other"`), as used in metric labels.
    ///
    /// ```
    /// assert_eq!(memokit_core::BackendErrorKind::Timeout.as_str(), "timeout");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Codec => "codec",
            Self::Config => "config",
            Self::Unsupported => "unsupported",
            Self::Protocol => "protocol",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for BackendErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timed out",
            Self::Unavailable => "unavailable",
            Self::Codec => "codec error",
            Self::Config => "bad configuration",
            Self::Unsupported => "unsupported",
            Self::Protocol => "protocol error",
            Self::Other => "error",
        })
    }
}

/// An error reported by a [`Backend`](crate::Backend).
///
/// ```
/// use memokit_core::{BackendError, BackendErrorKind};
/// let err = BackendError::new("redis", BackendErrorKind::Timeout, "GET took over 250ms");
/// assert_eq!(err.kind(), BackendErrorKind::Timeout);
/// assert_eq!(err.to_string(), "redis backend timed out: GET took over 250ms");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    backend: &'static str,
    kind: BackendErrorKind,
    message: Arc<str>,
    setting: Option<&'static str>,
}

impl BackendError {
    /// An error of `kind` from the backend called `backend`, with a message for humans.
    pub fn new(backend: &'static str, kind: BackendErrorKind, message: impl fmt::Display) -> Self {
        Self {
            backend,
            kind,
            message: message.to_string().into(),
            setting: None,
        }
    }

    /// A [`Config`](BackendErrorKind::Config) error about one option, named as the user spells it
    /// (`"url"`); building a cache turns it into a [`CacheError::Config`] naming the cache.
    ///
    /// ```
    /// use memokit_core::{BackendError, BackendErrorKind};
    /// let err = BackendError::config("redis", "url", "expected redis:// or rediss://");
    /// assert_eq!(err.kind(), BackendErrorKind::Config);
    /// assert_eq!(err.setting(), Some("url"));
    /// ```
    pub fn config(
        backend: &'static str,
        setting: &'static str,
        message: impl fmt::Display,
    ) -> Self {
        Self {
            setting: Some(setting),
            ..Self::new(backend, BackendErrorKind::Config, message)
        }
    }

    /// The backend's kind name, such as `"memory"` or `"redis"`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The class of failure.
    pub fn kind(&self) -> BackendErrorKind {
        self.kind
    }

    /// The human-readable detail.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The option at fault, for errors made by [`BackendError::config`].
    pub fn setting(&self) -> Option<&'static str> {
        self.setting
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} backend {}: {}",
            self.backend, self.kind, self.message
        )
    }
}

impl Error for BackendError {}

/// An error from a [`Cache`](crate::Cache) operation.
///
/// Memoized functions never surface it: they fail open and run their body. Code that asks a cache
/// directly (cache modules, [`Cache::get`](crate::Cache::get)) receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheError {
    /// The backend failed.
    Backend {
        /// The cache's name.
        cache: Arc<str>,
        /// What the backend said.
        source: BackendError,
    },
    /// The cache's configuration is invalid; `setting` names the option to fix.
    Config {
        /// The cache's name.
        cache: Arc<str>,
        /// The option at fault, as spelled in the attribute or builder (`"capacity"`, `"url"`).
        setting: &'static str,
        /// What is wrong with it and what to write instead.
        message: Arc<str>,
    },
    /// A loader asked its own cache for the key it is loading: waiting would never end.
    Recursion {
        /// The cache's name.
        cache: Arc<str>,
    },
    /// A JSON document operation ([`Cache::json_get`](crate::Cache::json_get) and its siblings)
    /// could not be done; the document is unchanged.
    #[cfg(feature = "json")]
    Json {
        /// The cache's name.
        cache: Arc<str>,
        /// The key, as its `Debug` form.
        key: Arc<str>,
        /// The path, as given.
        path: Arc<str>,
        /// What is wrong.
        problem: JsonProblem,
    },
    /// The cache's [warmer](crate::CacheBuilder::warmer) returned an error or panicked; the
    /// values already in the cache stayed.
    Warm {
        /// The cache's name.
        cache: Arc<str>,
        /// The warmer's error, or the panic's message.
        message: Arc<str>,
    },
    /// A snapshot file ([`Cache::save`](crate::Cache::save),
    /// [`Cache::restore`](crate::Cache::restore)) could not be written or read.
    #[cfg(feature = "snapshot")]
    Snapshot {
        /// The cache's name.
        cache: Arc<str>,
        /// The snapshot file.
        path: Arc<Path>,
        /// What kind of failure.
        kind: SnapshotErrorKind,
        /// What went wrong, for humans.
        message: Arc<str>,
    },
}

/// Why a snapshot file could not be written or read ([`CacheError::Snapshot`]).
#[cfg(feature = "snapshot")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SnapshotErrorKind {
    /// Reading or writing the file failed (missing, no permission, disk full).
    Io(io::ErrorKind),
    /// The file is not a memokit snapshot.
    Foreign,
    /// The file is a memokit snapshot of a format version this build does not read.
    Version,
    /// The snapshot was written for another key type, value type, `version` or codec.
    Mismatch,
    /// The file is a memokit snapshot, truncated or damaged (its checksum or a record is wrong).
    Corrupt,
}

#[cfg(feature = "snapshot")]
impl SnapshotErrorKind {
    /// The kind as one lowercase word (`"io"`, `"foreign"`, `"version"`, `"mismatch"`,
    /// `"corrupt"`).
    ///
    /// ```
    /// assert_eq!(memokit_core::SnapshotErrorKind::Corrupt.as_str(), "corrupt");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Io(_) => "io",
            Self::Foreign => "foreign",
            Self::Version => "version",
            Self::Mismatch => "mismatch",
            Self::Corrupt => "corrupt",
        }
    }
}

impl CacheError {
    pub(crate) fn config(
        cache: &Arc<str>,
        setting: &'static str,
        message: impl fmt::Display,
    ) -> Self {
        Self::Config {
            cache: cache.clone(),
            setting,
            message: message.to_string().into(),
        }
    }

    /// The name of the cache the error belongs to.
    pub fn cache(&self) -> &str {
        match self {
            Self::Backend { cache, .. }
            | Self::Config { cache, .. }
            | Self::Recursion { cache }
            | Self::Warm { cache, .. } => cache,
            #[cfg(feature = "json")]
            Self::Json { cache, .. } => cache,
            #[cfg(feature = "snapshot")]
            Self::Snapshot { cache, .. } => cache,
        }
    }
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backend { cache, source } => write!(f, "cache `{cache}`: {source}"),
            Self::Config {
                cache,
                setting,
                message,
            } => write!(f, "cache `{cache}`: invalid `{setting}`: {message}"),
            #[cfg(feature = "snapshot")]
            Self::Snapshot {
                cache,
                path,
                message,
                ..
            } => write!(f, "cache `{cache}`: snapshot {}: {message}", path.display()),
            Self::Recursion { cache } => write!(
                f,
                "cache `{cache}`: the loader of a key asked this cache for that same key (a memoized function called itself with the same arguments); waiting for itself would never end, so give the inner call different arguments or compute it without the cache"
            ),
            #[cfg(feature = "json")]
            Self::Json {
                cache,
                key,
                path,
                problem,
            } => write!(
                f,
                "cache `{cache}`: key {key}, JSON path `{path}`: {problem}"
            ),
            Self::Warm { cache, message } => {
                write!(f, "cache `{cache}`: the warmer failed: {message}")
            }
        }
    }
}

impl Error for CacheError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Backend { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a JSON document operation failed; see [`CacheError::Json`].
#[cfg(feature = "json")]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonProblem {
    /// The path is not written in the path syntax (`.`, `.field`, `[index]`, chained).
    Syntax(Arc<str>),
    /// There is no document under the key, or nothing at the path.
    Missing,
    /// The value at (or on the way to) the path is not what the operation needs.
    Type {
        /// What the operation needs, such as `"an integer"`.
        expected: &'static str,
        /// What is there, such as `"a string"`.
        found: &'static str,
    },
    /// The value under the key is not a JSON document: another type's value, or bytes that do
    /// not parse as JSON.
    NotJson(Arc<str>),
}

#[cfg(feature = "json")]
impl fmt::Display for JsonProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(why) => write!(f, "invalid path: {why}"),
            Self::Missing => f.write_str("nothing there"),
            Self::Type { expected, found } => write!(f, "expected {expected}, found {found}"),
            Self::NotJson(why) => write!(f, "not a JSON document: {why}"),
        }
    }
}

/// The error of [`Cache::try_get_or_insert_with`](crate::Cache::try_get_or_insert_with): the
/// loader's own error, or the cache's.
#[derive(Debug, Clone)]
pub enum LoadError<E> {
    /// The loader returned `Err`; nothing was cached.
    Load(E),
    /// The cache failed.
    Cache(CacheError),
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Load(e) => write!(f, "loader failed: {e}"),
            Self::Cache(e) => e.fmt(f),
        }
    }
}

impl<E: Error + 'static> Error for LoadError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Load(e) => Some(e),
            Self::Cache(e) => Some(e),
        }
    }
}

impl<E> From<CacheError> for LoadError<E> {
    fn from(e: CacheError) -> Self {
        Self::Cache(e)
    }
}
