//! Runtime configuration of cache modules (`#[derive(memokit::Cache)]`): the [`Settings`] a
//! `config` function adjusts, and the [`ConfigError`] it returns when the environment is wrong.
//!
//! # Design
//!
//! ElixirCache lets a cache module take its options from a function or from the application's
//! config, read when the cache starts, so a Redis URL or a TTL can differ per deployment. Here the
//! attribute's options (`ttl`, `capacity`, ...) are compile-time defaults; `config = path::to::fn`
//! names a function that receives those defaults as a `&mut Settings` and changes what it needs.
//! Taking the defaults by `&mut` (rather than returning a fresh struct) means the function can
//! read what the attribute said and touch one field, with no rule about how two sources merge.
//!
//! The function runs once, on the module's first use. If it fails (or panics), or the resulting
//! settings are invalid (a zero TTL, a backend that rejects its options), the module keeps that
//! [`CacheError`] and every call returns it: a misconfigured cache is a value the program can
//! log and survive, never a panic at startup or a silently unbounded cache. It is also reported
//! once, as an `error` event of kind `config` and in [`caches()`](crate::caches), so it shows
//! even where the callers drop their errors.

use std::fmt;
use std::hash::Hash;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
#[cfg(feature = "snapshot")]
use crate::backend::Iterate;
#[cfg(feature = "snapshot")]
use crate::bounds::{CacheKey, CacheValue};
use crate::cache::{Cache, IntoWarmer, WarmerFn, report_unbuilt};
use crate::config::Weigher;
#[cfg(feature = "snapshot")]
use crate::context::{self, Namespace};
use crate::error::CacheError;
use crate::memory::MemoryBackend;

/// The options of a cache module that its `config` function may change at run time.
///
/// The fields start with the values given in `#[cache(...)]` (`None` where the attribute gives
/// none); [`backend`](Self::backend) starts at the backend's default options.
///
/// ```
/// use std::time::Duration;
/// use memokit_core::{ConfigError, Settings};
///
/// /// `#[cache(..., config = users_config)]`: the TTL may come from the environment.
/// fn users_config(settings: &mut Settings<u64, String>) -> Result<(), ConfigError> {
///     if let Ok(secs) = std::env::var("USERS_TTL_SECS") {
///         let secs: u64 = secs
///             .parse()
///             .map_err(|e| ConfigError::new("ttl", format!("USERS_TTL_SECS={secs:?}: {e}")))?;
///         settings.ttl = Some(Duration::from_secs(secs));
///     }
///     settings.capacity = settings.capacity.or(Some(10_000));
///     Ok(())
/// }
///
/// let mut settings = Settings::default();
/// users_config(&mut settings)?;
/// assert_eq!(settings.capacity, Some(10_000));
/// # Ok::<(), ConfigError>(())
/// ```
#[non_exhaustive]
pub struct Settings<K, V, B: Backend<K, V> = MemoryBackend<K, V>> {
    /// Time to live of every entry, counted from its write.
    pub ttl: Option<Duration>,
    /// Time to idle: an entry not read for this long expires.
    pub tti: Option<Duration>,
    /// The bound on entries, or on total weight when there is a weigher.
    pub capacity: Option<u64>,
    /// Computes an entry's weight; the cache is then bounded by total weight.
    pub weigher: Option<Weigher<K, V>>,
    /// The backend's own options (for Redis: where to connect, timeouts).
    pub backend: B::Options,
    /// Whether using the cache outside a [sandbox](mod@crate::sandbox) panics (the derive's
    /// `sandbox = "required"` sets it in the declaring crate's test builds).
    pub require_sandbox: bool,
    /// The schema version of the values; see [`CacheBuilder::version`](crate::CacheBuilder::version).
    pub version: u32,
    /// With single flight across processes (the derive's `flight = "distributed"`), its lease
    /// period; see [`CacheBuilder::distributed_flight`](crate::CacheBuilder::distributed_flight).
    pub flight_lease: Option<Duration>,
    /// The warmer and its interval (the derive's `warmer` and `warm_every`); see
    /// [`CacheBuilder::warmer`](crate::CacheBuilder::warmer).
    pub warmer: Option<(WarmerFn<K, V>, Duration)>,
    /// How long the first use waits for the warmer's first run (the derive's `warm_wait`); see
    /// [`CacheBuilder::warm_wait`](crate::CacheBuilder::warm_wait).
    pub warm_wait: Option<Duration>,
}

impl<K, V, B: Backend<K, V>> Settings<K, V, B> {
    /// Sets the weigher from a closure or function (a shorthand for wrapping it in an `Arc`).
    ///
    /// ```
    /// use memokit_core::Settings;
    /// let mut settings: Settings<u64, String> = Settings::default();
    /// settings.set_weigher(|_id, name| name.len() as u64);
    /// assert!(settings.weigher.is_some());
    /// ```
    pub fn set_weigher(&mut self, weigher: impl Fn(&K, &V) -> u64 + Send + Sync + 'static) {
        self.weigher = Some(Arc::new(weigher));
    }

    /// Sets the warmer from a function, sync or async, run every `every`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Settings;
    ///
    /// fn load() -> Result<Vec<(u64, String)>, String> {
    ///     Ok(vec![(1, "ada".into())])
    /// }
    /// let mut settings: Settings<u64, String> = Settings::default();
    /// settings.set_warmer(load, Duration::from_secs(60));
    /// assert!(settings.warmer.is_some());
    /// ```
    pub fn set_warmer<M>(&mut self, warmer: impl IntoWarmer<K, V, M>, every: Duration) {
        self.warmer = Some((warmer.into_warmer(), every));
    }

    /// Builds the cache called `name` with these settings.
    fn build(self, name: &'static str) -> Result<Cache<K, V, B>, CacheError>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let mut builder = Cache::builder(name).backend_options(self.backend);
        if let Some(ttl) = self.ttl {
            builder = builder.ttl(ttl);
        }
        if let Some(tti) = self.tti {
            builder = builder.tti(tti);
        }
        if let Some(capacity) = self.capacity {
            builder = builder.capacity(capacity);
        }
        if let Some(weigher) = self.weigher {
            builder = builder.weigher(move |k, v| weigher(k, v));
        }
        if let Some((warmer, every)) = self.warmer {
            builder = builder.warmer(warmer, every);
        }
        if let Some(wait) = self.warm_wait {
            builder = builder.warm_wait(wait);
        }
        if let Some(lease) = self.flight_lease {
            builder = builder.distributed_flight(lease);
        }
        builder
            .require_sandbox(self.require_sandbox)
            .version(self.version)
            .build()
    }
}

impl<K, V, B: Backend<K, V>> Default for Settings<K, V, B> {
    fn default() -> Self {
        Self {
            ttl: None,
            tti: None,
            capacity: None,
            weigher: None,
            backend: B::Options::default(),
            require_sandbox: false,
            version: 0,
            flight_lease: None,
            warmer: None,
            warm_wait: None,
        }
    }
}

impl<K, V, B: Backend<K, V>> fmt::Debug for Settings<K, V, B>
where
    B::Options: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("ttl", &self.ttl)
            .field("tti", &self.tti)
            .field("capacity", &self.capacity)
            .field("weigher", &self.weigher.is_some())
            .field("backend", &self.backend)
            .field("require_sandbox", &self.require_sandbox)
            .field("version", &self.version)
            .field("flight_lease", &self.flight_lease)
            .field("warmer", &self.warmer.as_ref().map(|(_, every)| every))
            .field("warm_wait", &self.warm_wait)
            .finish()
    }
}

/// A cache module's `config` function could not produce valid settings: which setting, and why.
///
/// The module reports it as [`CacheError::Config`], adding the cache's name.
///
/// ```
/// use memokit_core::ConfigError;
/// let err = ConfigError::new("url", "USERS_REDIS_URL is not set");
/// assert_eq!(err.setting(), "url");
/// assert_eq!(err.to_string(), "invalid `url`: USERS_REDIS_URL is not set");
/// ```
#[derive(Debug, Clone)]
pub struct ConfigError {
    setting: &'static str,
    message: Arc<str>,
}

impl ConfigError {
    /// `setting` is wrong or missing; `message` says what is wrong and how to fix it.
    pub fn new(setting: &'static str, message: impl fmt::Display) -> Self {
        Self {
            setting,
            message: message.to_string().into(),
        }
    }

    /// The setting at fault.
    pub fn setting(&self) -> &'static str {
        self.setting
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Builds a cache module's cache on first use: the attribute's `settings`, adjusted by the
/// module's `config` function. Any failure, including a panic in `config`, becomes the
/// [`CacheError::Config`] (or backend error) every call of the module then returns, and is
/// reported once (an `error` event, and the module's entry in [`caches()`](crate::caches)).
pub fn build_module<K, V, B>(
    name: &'static str,
    mut settings: Settings<K, V, B>,
    config: impl FnOnce(&mut Settings<K, V, B>) -> Result<(), ConfigError>,
) -> Result<Cache<K, V, B>, CacheError>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    let built = configure(name, &mut settings, config).and_then(|()| settings.build(name));
    if let Err(error) = &built {
        report_unbuilt(B::KIND, error);
    }
    built
}

/// Runs a module's `config` function; its error or panic becomes a [`CacheError::Config`].
fn configure<K, V, B: Backend<K, V>>(
    name: &'static str,
    settings: &mut Settings<K, V, B>,
    config: impl FnOnce(&mut Settings<K, V, B>) -> Result<(), ConfigError>,
) -> Result<(), CacheError> {
    let configured = panic::catch_unwind(AssertUnwindSafe(|| config(settings)));
    let failure = match configured {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e,
        Err(payload) => {
            let reason = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string payload".to_owned());
            ConfigError::new("config", format!("the config function panicked: {reason}"))
        }
    };
    Err(CacheError::Config {
        cache: name.into(),
        setting: failure.setting,
        message: failure.message,
    })
}

/// A cache module's `restore = "file"`: once `built`, the cache restores the snapshot at
/// `path` into the global namespace (the file is the program's, whichever sandbox the first
/// use came from). A missing file starts the cache empty; a bad one too, with an `error` event.
/// A module with `sandbox = "required"` restores nothing in its test builds, where the global
/// namespace is out of bounds.
#[cfg(feature = "snapshot")]
pub fn restore_module<K, V, B>(
    built: Result<Cache<K, V, B>, CacheError>,
    path: &'static str,
) -> Result<Cache<K, V, B>, CacheError>
where
    K: CacheKey + serde::Serialize + serde::de::DeserializeOwned,
    V: CacheValue + serde::Serialize + serde::de::DeserializeOwned,
    B: Iterate<K, V>,
{
    let cache = built?;
    if !cache.config().sandbox_required() {
        let _global = InGlobal(context::replace_namespace(Namespace::GLOBAL));
        cache.restore_if_present(std::path::Path::new(path));
    }
    Ok(cache)
}

/// Puts the thread's namespace back when dropped, panic or not.
#[cfg(feature = "snapshot")]
struct InGlobal(Namespace);

#[cfg(feature = "snapshot")]
impl Drop for InGlobal {
    fn drop(&mut self) {
        context::replace_namespace(self.0);
    }
}
