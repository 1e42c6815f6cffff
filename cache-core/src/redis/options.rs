//! [`RedisOptions`]: where the server is and how to talk to it, and turning a URL into a topology.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use crate::error::BackendError;

use super::KIND;
use crate::codec::{Codec, Postcard};

/// Options of the Redis backend, given to
/// [`CacheBuilder::backend_options`](crate::CacheBuilder::backend_options) (or returned by a cache
/// module's `config` function). Every field has a default, so set only what differs.
///
/// # The URL
///
/// `redis://[[user]:password@]host[:port][/db]`, or `rediss://...` for TLS (which needs the
/// `redis-tls` feature); `redis+unix:///path/to/socket[?db=..&user=..&pass=..]` for a Unix socket.
/// AUTH credentials and the database index come from the URL; percent-encode `@`, `/`, `:`, `?`
/// and `#` in a password. Several URLs separated by commas are the seed nodes of a Redis Cluster;
/// [`RedisOptions::cluster`] makes a single seed a cluster too.
///
/// Where it comes from, first match wins: [`RedisOptions::url`] (the `url` option of
/// `#[cached]`), then the `MEMOKIT_REDIS_URL` environment variable when the cache is built, then
/// `redis://127.0.0.1:6379`. A URL that does not parse is a
/// [`CacheError::Config`](crate::CacheError::Config) naming the cache and `url`.
///
/// URLs are redacted wherever memokit prints them (this type's `Debug`, errors, events): a URL is
/// parsed with the [`url`](https://docs.rs/url) crate, and every user name, password and query
/// value other than `db` and `protocol` shows as `***`; one that does not parse (or parses
/// ambiguously, such as a password with an unencoded `@` or `/`) shows as `<unparseable url>`,
/// so no part of its credentials is ever printed. Each cluster seed is redacted on its own.
///
/// # TLS
///
/// `rediss://` URLs (feature `redis-tls`, with rustls) verify the server's certificate and host
/// name, against the system's roots by default. For a private CA, such as a self-signed one, give
/// its PEM with [`RedisOptions::tls_ca`]. A certificate that does not verify fails the operation
/// with an error naming the cache; there is no fallback to plain TCP. (The `redis` crate's
/// `rediss://host/#insecure` URL skips verification: for experiments only.)
///
/// # The timeout
///
/// [`RedisOptions::timeout`] bounds each whole operation, whether its connection is pooled or has
/// to be opened first: connecting, TLS, `AUTH`, `SELECT` and every reply share one deadline, so an
/// unreachable, dead or frozen server costs a call at most one timeout (and, while the breaker is
/// open, none). On Redis Cluster, sync operations bound each request the cluster client makes
/// rather than their sum; async ones are bounded whole.
///
/// ```
/// use std::time::Duration;
/// use memokit_core::{Cache, CacheError, RedisBackend, RedisOptions};
///
/// let options = RedisOptions::new()
///     .url("redis://:secret@10.0.0.7:6380/2")
///     .timeout(Duration::from_millis(100))
///     .prefix("shop");
/// assert_eq!(options.timeout_value(), Duration::from_millis(100));
///
/// let bad = Cache::<u64, u64, RedisBackend>::builder("prices")
///     .backend_options(RedisOptions::new().url("http://:secret@nowhere"))
///     .build()
///     .unwrap_err();
/// assert!(matches!(bad, CacheError::Config { setting: "url", .. }));
/// assert!(!bad.to_string().contains("secret"));
/// ```
#[derive(Clone)]
pub struct RedisOptions {
    pub(crate) url: Option<String>,
    pub(crate) cluster: bool,
    pub(crate) timeout: Duration,
    pub(crate) retry_interval: Duration,
    pub(crate) prefix: Arc<str>,
    pub(crate) codec: Arc<dyn Codec>,
    pub(crate) pool_size: usize,
    /// The PEM of the CA that signs the server's certificate, instead of the system's roots.
    pub(crate) tls_ca: Option<Arc<[u8]>>,
}

impl RedisOptions {
    /// The environment variable read when no URL is set in code.
    pub const URL_ENV: &'static str = "MEMOKIT_REDIS_URL";
    /// The URL used when neither code nor the environment gives one.
    pub const DEFAULT_URL: &'static str = "redis://127.0.0.1:6379";
    /// How long one operation may take by default: long enough for a loaded server across a data
    /// centre, short enough that a memoized function barely notices a dead one.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
    /// How long Redis is skipped after a failure, by default.
    pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(1);
    /// The first segment of every key, by default.
    pub const DEFAULT_PREFIX: &'static str = "memokit";
    /// Idle blocking connections kept for sync callers, by default.
    pub const DEFAULT_POOL_SIZE: usize = 8;

    /// The defaults: the URL from the environment, a 250 ms timeout, prefix `memokit`, postcard.
    pub fn new() -> Self {
        Self {
            url: None,
            cluster: false,
            timeout: Self::DEFAULT_TIMEOUT,
            retry_interval: Self::DEFAULT_RETRY_INTERVAL,
            prefix: Self::DEFAULT_PREFIX.into(),
            codec: Arc::new(Postcard),
            pool_size: Self::DEFAULT_POOL_SIZE,
            tls_ca: None,
        }
    }

    /// The server's URL (see [the type docs](Self) for the forms).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Treats the URL as a Redis Cluster seed even when it names a single node. A cluster (this
    /// flag, or comma-separated seed URLs) needs the `redis-cluster` feature; without it, building
    /// the cache is a [`CacheError::Config`](crate::CacheError::Config) naming the cache and
    /// `cluster` (or `url`). The method exists either way, so that options built in shared code
    /// compile whatever the features, and the error says which feature to turn on.
    pub fn cluster(mut self, cluster: bool) -> Self {
        self.cluster = cluster;
        self
    }

    /// The deadline of every operation (default 250 ms): connecting, TLS, authentication and
    /// every reply included, sync or async (see [the type docs](Self#the-timeout)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long to skip Redis after a connection failure or timeout before one caller tries it
    /// again (default 1 s). Zero retries on every call.
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// The first segment of every key (default `memokit`), e.g. to separate applications or
    /// deployments sharing one server. It must not contain `:`, which ends it (write `shop-prod`
    /// rather than `shop:prod`), so that no prefix and cache name can forge another's keys.
    pub fn prefix(mut self, prefix: impl Into<Arc<str>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The value format (default [`Postcard`]).
    pub fn codec(mut self, codec: impl Codec) -> Self {
        self.codec = Arc::new(codec);
        self
    }

    /// Idle blocking connections kept for sync callers (default 8); more concurrent sync callers
    /// open more connections and close the surplus after use.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Verifies the server's TLS certificate against this CA (one or more PEM certificates)
    /// instead of the system's roots; needs a `rediss://` URL and the `redis-tls` feature.
    ///
    /// ```
    /// # use memokit_core::RedisOptions;
    /// # let pem = std::fs::read("ca.pem").unwrap_or_default();
    /// let options = RedisOptions::new()
    ///     .url("rediss://:secret@cache.internal:6380")
    ///     .tls_ca(pem);
    /// assert!(!format!("{options:?}").contains("secret"));
    /// ```
    pub fn tls_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_ca = Some(pem.into().into());
        self
    }

    /// The operation timeout.
    pub fn timeout_value(&self) -> Duration {
        self.timeout
    }

    /// Checks the options and finds the server, without connecting.
    pub(crate) fn topology(&self) -> Result<Topology, BackendError> {
        if self.timeout.is_zero() {
            return Err(BackendError::config(
                KIND,
                "timeout",
                "must be longer than zero",
            ));
        }
        if self.prefix.is_empty() {
            return Err(BackendError::config(
                KIND,
                "prefix",
                "must not be empty: it keeps memokit's keys apart from others",
            ));
        }
        if let Some(at) = self.prefix.find(':') {
            return Err(BackendError::config(
                KIND,
                "prefix",
                format_args!(
                    "`{}` contains `:` at byte {at}; `:` ends the prefix in every key, so use another separator (`-`, `.`)",
                    self.prefix
                ),
            ));
        }
        if self.pool_size == 0 {
            return Err(BackendError::config(
                KIND,
                "pool_size",
                "must be at least 1",
            ));
        }
        let url = match &self.url {
            Some(url) => url.clone(),
            None => std::env::var(Self::URL_ENV).unwrap_or_else(|_| Self::DEFAULT_URL.into()),
        };
        let topology = Topology::parse(&url, self.cluster)?;
        if topology.cluster && cfg!(not(feature = "redis-cluster")) {
            // Named as the user wrote it: the flag, or the list of seeds.
            let setting = if self.cluster { "cluster" } else { "url" };
            return Err(BackendError::config(
                KIND,
                setting,
                "a Redis Cluster needs memokit's `redis-cluster` feature",
            ));
        }
        if self.tls_ca.is_some() {
            if cfg!(not(feature = "redis-tls")) {
                return Err(BackendError::config(
                    KIND,
                    "tls_ca",
                    "needs memokit's `redis-tls` feature",
                ));
            }
            #[cfg(feature = "redis-tls")]
            check_pem(self.tls_ca.as_deref().unwrap_or_default())?;
            let plain =
                |info: &ConnectionInfo| !matches!(info.addr(), ConnectionAddr::TcpTls { .. });
            if topology.nodes.iter().any(plain) {
                return Err(BackendError::config(
                    KIND,
                    "tls_ca",
                    "is for TLS: give `rediss://` URLs",
                ));
            }
        }
        Ok(topology)
    }
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &self.url.as_deref().map(redact_all))
            .field("cluster", &self.cluster)
            .field("timeout", &self.timeout)
            .field("retry_interval", &self.retry_interval)
            .field("prefix", &self.prefix)
            .field("codec", &self.codec.name())
            .field("pool_size", &self.pool_size)
            .field("tls_ca", &self.tls_ca.as_ref().map(|_| "<pem>"))
            .finish()
    }
}

/// The servers a backend talks to: one node, or the seed nodes of a cluster.
pub(crate) struct Topology {
    pub(crate) nodes: Vec<ConnectionInfo>,
    pub(crate) cluster: bool,
}

impl Topology {
    fn parse(urls: &str, cluster: bool) -> Result<Self, BackendError> {
        let mut nodes = Vec::new();
        for url in urls.split(',').map(str::trim) {
            let info = url.into_connection_info().map_err(|e| {
                let hint = if url.starts_with("rediss") && cfg!(not(feature = "redis-tls")) {
                    "; `rediss://` needs memokit's `redis-tls` feature"
                } else {
                    ""
                };
                BackendError::config(
                    KIND,
                    "url",
                    format_args!(
                        "`{}`: {e}{hint}; expected redis://[[user]:password@]host[:port][/db], rediss://... for TLS, or comma-separated cluster seeds",
                        redact(url)
                    ),
                )
            })?;
            nodes.push(info);
        }
        Ok(Self {
            cluster: cluster || nodes.len() > 1,
            nodes,
        })
    }
}

/// Checks that `pem` holds at least one certificate and nothing unreadable: the driver would
/// otherwise take it for an empty list of roots, which no server passes.
#[cfg(feature = "redis-tls")]
fn check_pem(pem: &[u8]) -> Result<(), BackendError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(()),
        Ok(_) => Err(BackendError::config(
            KIND,
            "tls_ca",
            "holds no PEM certificate",
        )),
        Err(e) => Err(BackendError::config(
            KIND,
            "tls_ca",
            format_args!("is not readable PEM: {e}"),
        )),
    }
}

/// Comma-separated URLs, each [redacted](redact).
fn redact_all(urls: &str) -> String {
    let redacted: Vec<_> = urls.split(',').map(|url| redact(url.trim())).collect();
    redacted.join(", ")
}

/// `url` as it may be printed (see [the type docs](RedisOptions)): parsed, with every user name,
/// password and query value but `db` and `protocol` masked, or `<unparseable url>`.
fn redact(url: &str) -> String {
    const UNPARSEABLE: &str = "<unparseable url>";
    const MASK: &str = "***";
    let Ok(mut parsed) = url::Url::parse(url) else {
        return UNPARSEABLE.into();
    };
    // An `@` after the authority means the authority ended early, inside a password with an
    // unencoded `/`, `?` or `#`: what looks like the host or path would be part of it.
    let rest = [
        parsed.path(),
        parsed.query().unwrap_or(""),
        parsed.fragment().unwrap_or(""),
    ];
    if parsed.cannot_be_a_base() || rest.iter().any(|part| part.contains('@')) {
        return UNPARSEABLE.into();
    }
    if !parsed.username().is_empty() && parsed.set_username(MASK).is_err() {
        return UNPARSEABLE.into();
    }
    if parsed.password().is_some() && parsed.set_password(Some(MASK)).is_err() {
        return UNPARSEABLE.into();
    }
    // A TCP URL's path is the database number; anything else there is not printed.
    let tcp = !parsed.scheme().contains("unix");
    let db = parsed.path().trim_start_matches('/');
    if tcp && !db.bytes().all(|b| b.is_ascii_digit()) {
        parsed.set_path(MASK);
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| match &*key {
                "db" | "protocol" => (key.into_owned(), value.into_owned()),
                _ => (MASK.into(), MASK.into()),
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if parsed.fragment().is_some_and(|f| f != "insecure") {
        parsed.set_fragment(Some(MASK));
    }
    parsed.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BackendErrorKind;

    fn parse(url: &str) -> Result<Topology, BackendError> {
        RedisOptions::new().url(url).topology()
    }

    fn rejected(options: RedisOptions) -> BackendError {
        match options.topology() {
            Err(e) => e,
            Ok(_) => panic!("{options:?} was accepted"),
        }
    }

    #[test]
    fn urls_carry_auth_and_database() {
        let topology = parse("redis://bob:pw@127.0.0.1:6390/3").unwrap();
        assert!(!topology.cluster);
        let info = &topology.nodes[0];
        assert_eq!(info.redis_settings().db(), 3);
        assert_eq!(info.redis_settings().username(), Some("bob"));
        assert_eq!(info.redis_settings().password(), Some("pw"));
    }

    #[test]
    fn comma_separated_urls_or_the_flag_mean_cluster_which_needs_its_feature() {
        let seeds = RedisOptions::new().url("redis://:pw@a:7000, redis://b:7001");
        let one_seed = RedisOptions::new().url("redis://a:7000").cluster(true);
        if cfg!(feature = "redis-cluster") {
            let two = seeds.topology().unwrap();
            assert!(two.cluster);
            assert_eq!(two.nodes.len(), 2);
            assert!(one_seed.topology().unwrap().cluster);
        } else {
            for (options, setting) in [(seeds, "url"), (one_seed, "cluster")] {
                let err = rejected(options);
                assert_eq!(err.kind(), BackendErrorKind::Config);
                assert_eq!(err.setting(), Some(setting));
                assert!(err.message().contains("`redis-cluster` feature"), "{err}");
                assert!(!err.message().contains("pw"), "{err}");
            }
        }
    }

    #[test]
    fn bad_urls_name_the_setting_and_hide_the_password() {
        for url in [
            "http://u:hunter2@host",
            "redis://u:hunter2@host:notaport",
            "",
        ] {
            let err = rejected(RedisOptions::new().url(url));
            assert_eq!(err.kind(), BackendErrorKind::Config);
            assert_eq!(err.setting(), Some("url"));
            assert!(!err.message().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn tls_urls_need_the_tls_feature() {
        let tls = RedisOptions::new().url("rediss://:pw@cache.internal:6380/1");
        if cfg!(feature = "redis-tls") {
            assert!(tls.topology().is_ok());
        } else {
            let err = rejected(tls);
            assert!(err.message().contains("`redis-tls` feature"), "{err}");
        }
    }

    #[test]
    fn other_settings_are_checked() {
        let err = rejected(RedisOptions::new().timeout(Duration::ZERO));
        assert_eq!(err.setting(), Some("timeout"));
        let err = rejected(RedisOptions::new().prefix(""));
        assert_eq!(err.setting(), Some("prefix"));
        let err = rejected(RedisOptions::new().prefix("shop:prod"));
        assert_eq!(err.setting(), Some("prefix"));
        assert!(err.message().contains("`:` at byte 4"), "{err}");
        let err = rejected(RedisOptions::new().pool_size(0));
        assert_eq!(err.setting(), Some("pool_size"));
    }

    #[test]
    fn redaction_masks_credentials_and_keeps_the_address() {
        assert_eq!(redact("redis://u:pw@h:1/2"), "redis://***:***@h:1/2");
        assert_eq!(redact("redis://:pw@h"), "redis://:***@h");
        assert_eq!(redact("redis://h:1/2"), "redis://h:1/2");
        assert_eq!(redact("redis://u@h"), "redis://***@h");
        assert_eq!(
            redact("redis+unix:///run/redis.sock?db=3&user=u&pass=pw"),
            "redis+unix:///run/redis.sock?db=3&***=***&***=***"
        );
        assert_eq!(redact("rediss://h/#insecure"), "rediss://h/#insecure");
        assert_eq!(redact("redis://u:p@ss/w@h"), "<unparseable url>");
        assert_eq!(redact("redis://:pw@h/notadb"), "redis://:***@h/***");
        assert_eq!(
            redact_all("redis://:a@h:1, redis://:b@h:2"),
            "redis://:***@h:1, redis://:***@h:2"
        );
    }
}
