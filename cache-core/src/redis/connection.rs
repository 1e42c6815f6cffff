//! Connections: a small pool of blocking connections for sync callers, one multiplexed connection
//! per Tokio runtime for async callers, a deadline on every operation, and the [`Breaker`].
//!
//! The deadline is [`RedisOptions::timeout`] from the moment an operation starts, and it covers
//! connecting: async operations run whole under `tokio::time::timeout`, and a sync operation hands
//! one deadline to its [`Blocking`] connection, which spends what is left of it on connecting,
//! authenticating and every reply. On Redis Cluster, the cluster client connects and follows
//! redirects by itself, so a sync operation there bounds each of its requests, not their sum.
//!
//! The `redis` crate's `ConnectionManager` (like its async cluster connection) spawns a driver task
//! on the runtime that creates it and dies with that runtime. A cache usually lives in a `static`
//! that outlives runtimes (each `#[tokio::test]` has its own), so connections are kept per runtime
//! id, a few at most; the oldest is dropped when a new runtime shows up.
//!
//! # Why the sync pool is not `r2d2`
//!
//! The `redis` crate offers `r2d2` (feature `r2d2`), the kept sync pool, and it was weighed
//! against the dozen lines here (`on_pooled`: pop an idle connection, or open one; push it back
//! unless it broke). It loses on what this backend promises, not on speed:
//!
//! * r2d2 runs its own thread pool (`scheduled-thread-pool`, 3 threads per pool by default) to
//!   open and reap connections: threads behind the user's back, which memokit does not start;
//! * its `connection_timeout` bounds the wait for a pooled connection, separately from the
//!   socket's timeouts, while here one deadline ([`RedisOptions::timeout`]) covers connecting,
//!   TLS, AUTH and every reply of the operation, which [`Blocking`] spends as it goes;
//! * a connection whose reply may still be in flight (after an I/O error or a timeout) must never
//!   be reused; r2d2 would need a `has_broken` test per checkout for what is known at the error;
//! * it adds `r2d2` and `scheduled-thread-pool` to every `redis` build.
//!
//! The hand-written pool has no thread, no lock held across I/O, and a size bound
//! ([`RedisOptions::pool_size`]) on idle connections only: a burst opens what it needs and keeps
//! at most that many afterwards.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::aio::{
    ConnectionLike as AsyncConnectionLike, ConnectionManager, ConnectionManagerConfig,
};
#[cfg(feature = "redis-cluster")]
use redis::cluster::{ClusterClient, ClusterConnection};
use redis::{
    Cmd, ConnectionLike, Pipeline, ProtocolVersion, RedisError, RedisFuture, RedisResult, Value,
};
use tokio::runtime::Handle;
use tokio::sync::OnceCell;

use crate::error::{BackendError, BackendErrorKind};

use super::KIND;
use super::blocking::{Blocking, Opener};
use super::breaker::Breaker;
use super::options::{RedisOptions, Topology};

/// Runtimes whose async connection is kept at once.
const MAX_RUNTIMES: usize = 4;

// One per cache, built once: the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Client {
    /// The client of the async connection, how to open blocking ones, the RESP3 client of a
    /// tiered cache's invalidation connection (`CLIENT TRACKING` pushes need RESP3), and how to
    /// open the blocking ones that only listen (for lease releases).
    Single(
        redis::Client,
        Opener,
        #[cfg_attr(not(feature = "tiered"), allow(dead_code))] redis::Client,
        Opener,
    ),
    #[cfg(feature = "redis-cluster")]
    Cluster(ClusterClient),
}

/// A blocking connection.
pub(crate) enum SyncConn {
    Single(Blocking),
    #[cfg(feature = "redis-cluster")]
    Cluster(Box<ClusterConnection>),
}

impl SyncConn {
    pub(crate) fn as_dyn(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Self::Single(c) => c,
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(c) => &mut **c,
        }
    }

    /// Starts an operation that must end by `deadline`.
    fn set_deadline(&mut self, deadline: Instant) -> RedisResult<()> {
        match self {
            Self::Single(c) => c.set_deadline(deadline),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(c) => {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1));
                c.set_read_timeout(Some(left))?;
                c.set_write_timeout(Some(left))?;
            }
        }
        Ok(())
    }
}

/// A multiplexed connection, cheap to clone.
#[derive(Clone)]
pub(crate) enum AsyncConn {
    Single(ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl AsyncConnectionLike for AsyncConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(c) => c.get_db(),
        }
    }
}

type RuntimeConns = Vec<(tokio::runtime::Id, Arc<OnceCell<AsyncConn>>)>;

/// Everything needed to reach Redis; shared by all views of one cache.
pub(crate) struct Connector {
    client: Client,
    timeout: Duration,
    breaker: Breaker,
    idle: Mutex<Vec<SyncConn>>,
    pool_size: usize,
    runtimes: Mutex<RuntimeConns>,
}

impl Connector {
    /// Prepares the clients; nothing connects until the first operation.
    pub(crate) fn new(topology: Topology, options: &RedisOptions) -> Result<Self, BackendError> {
        // The driver's messages here are fixed strings: never the URL, so never its password.
        let setting = if options.tls_ca.is_some() {
            "tls_ca"
        } else {
            "url"
        };
        let config_error = |e: RedisError| BackendError::config(KIND, setting, e);
        let client = match topology.cluster {
            // Without the feature, `RedisOptions::topology` has refused a cluster already.
            #[cfg(feature = "redis-cluster")]
            true => {
                let builder = ClusterClient::builder(topology.nodes)
                    .connection_timeout(options.timeout)
                    .response_timeout(options.timeout);
                #[cfg(feature = "redis-tls")]
                let builder = match &options.tls_ca {
                    Some(ca) => builder.certs(certificates(ca)),
                    None => builder,
                };
                Client::Cluster(builder.build().map_err(config_error)?)
            }
            _ => {
                let node = topology.nodes.into_iter().next();
                let node =
                    node.ok_or_else(|| BackendError::config(KIND, "url", "names no server"))?;
                let open = |node: redis::ConnectionInfo| match &options.tls_ca {
                    #[cfg(feature = "redis-tls")]
                    Some(ca) => redis::Client::build_with_tls(node, certificates(ca)),
                    _ => redis::Client::open(node),
                };
                let resp3 = node
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                let tracking =
                    open(node.clone().set_redis_settings(resp3)).map_err(config_error)?;
                let client = open(node).map_err(config_error)?;
                let opener = Opener::new(&client).map_err(config_error)?;
                let listener = Opener::listening(&client).map_err(config_error)?;
                Client::Single(client, opener, tracking, listener)
            }
        };
        Ok(Self {
            client,
            timeout: options.timeout,
            breaker: Breaker::new(options.retry_interval),
            idle: Mutex::new(Vec::new()),
            pool_size: options.pool_size,
            runtimes: Mutex::new(Vec::new()),
        })
    }

    /// The RESP3 client for a connection that receives `CLIENT TRACKING` invalidation pushes;
    /// `None` on Redis Cluster, where tracking is per node.
    #[cfg_attr(not(feature = "tiered"), allow(dead_code))]
    pub(crate) fn tracking_client(&self) -> Option<&redis::Client> {
        match &self.client {
            Client::Single(_, _, tracking, _) => Some(tracking),
            #[cfg(feature = "redis-cluster")]
            Client::Cluster(_) => None,
        }
    }

    /// Whether this is a Redis Cluster.
    #[cfg(feature = "redis-cluster")]
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.client, Client::Cluster(_))
    }

    /// Whether this is a Redis Cluster: never, without the `redis-cluster` feature.
    #[cfg(not(feature = "redis-cluster"))]
    pub(crate) fn is_cluster(&self) -> bool {
        false
    }

    /// Runs `op` on a pooled blocking connection.
    pub(crate) fn run_sync<T>(
        &self,
        op: impl FnOnce(&mut SyncConn) -> RedisResult<T>,
    ) -> Result<T, BackendError> {
        self.breaker.admit()?;
        let result = self.on_pooled(op);
        self.breaker.record(&result);
        result
    }

    fn on_pooled<T>(
        &self,
        op: impl FnOnce(&mut SyncConn) -> RedisResult<T>,
    ) -> Result<T, BackendError> {
        let deadline = Instant::now() + self.timeout;
        let pooled = self.idle.lock().pop();
        let mut conn = match pooled {
            Some(mut conn) => match conn.set_deadline(deadline) {
                Ok(()) => conn,
                Err(e) => return Err(self.sync_error(e)),
            },
            None => self
                .connect_sync(deadline)
                .map_err(|e| self.sync_error(e))?,
        };
        let result = op(&mut conn);
        // After an I/O error (a read timeout included) a reply may still be in flight on this
        // socket, and the next command would read it: never reuse such a connection.
        let broken = result
            .as_ref()
            .is_err_and(|e| e.is_io_error() || e.is_unrecoverable_error());
        if !broken && conn.as_dyn().is_open() {
            let mut idle = self.idle.lock();
            if idle.len() < self.pool_size {
                idle.push(conn);
            }
        }
        result.map_err(|e| self.sync_error(e))
    }

    fn connect_sync(&self, deadline: Instant) -> RedisResult<SyncConn> {
        match &self.client {
            Client::Single(_, opener, ..) => opener.open(deadline).map(SyncConn::Single),
            #[cfg(feature = "redis-cluster")]
            Client::Cluster(client) => {
                let mut conn = SyncConn::Cluster(Box::new(client.get_connection()?));
                conn.set_deadline(deadline)?;
                Ok(conn)
            }
        }
    }

    /// A sync operation's error; a timeout reads as an async one does.
    fn sync_error(&self, e: RedisError) -> BackendError {
        if e.is_timeout() {
            self.timed_out()
        } else {
            backend_error(e)
        }
    }

    fn timed_out(&self) -> BackendError {
        BackendError::new(
            KIND,
            BackendErrorKind::Timeout,
            format_args!("no answer within {:?}", self.timeout),
        )
    }

    /// Runs `op` on this runtime's multiplexed connection, within the timeout.
    pub(crate) async fn run_async<T, F, Fut>(&self, op: F) -> Result<T, BackendError>
    where
        F: FnOnce(AsyncConn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let Ok(runtime) = Handle::try_current() else {
            return Err(BackendError::new(
                KIND,
                BackendErrorKind::Other,
                "async Redis operations need a Tokio runtime (with time enabled)",
            ));
        };
        self.breaker.admit()?;
        let work = async {
            let conn = self.async_conn(&runtime).await?;
            op(conn).await
        };
        let result = match tokio::time::timeout(self.timeout, work).await {
            Ok(done) => done.map_err(backend_error),
            Err(_) => {
                // A silent network (no reset, no refusal) never errors the socket, so the driver
                // would keep waiting on it: reconnect on the next attempt instead.
                self.forget_async_conn(runtime.id());
                Err(self.timed_out())
            }
        };
        self.breaker.record(&result);
        result
    }

    /// A connection of its own subscribed to `channel`, within the timeout; `None` on Redis
    /// Cluster, where a waiter polls instead.
    pub(crate) fn listen(&self, channel: &[u8]) -> Result<Option<Blocking>, BackendError> {
        let listener = match &self.client {
            Client::Single(_, _, _, listener) => listener,
            #[cfg(feature = "redis-cluster")]
            Client::Cluster(_) => return Ok(None),
        };
        self.breaker.admit()?;
        let mut conn = listener
            .open(Instant::now() + self.timeout)
            .map_err(|e| self.sync_error(e))?;
        conn.subscribe(channel).map_err(|e| self.sync_error(e))?;
        Ok(Some(conn))
    }

    /// Async form of [`listen`](Self::listen).
    pub(crate) async fn listen_async(
        &self,
        channel: &[u8],
    ) -> Result<Option<redis::aio::PubSub>, BackendError> {
        #[cfg_attr(
            not(feature = "redis-cluster"),
            expect(
                clippy::infallible_destructuring_match,
                reason = "one variant without the feature"
            )
        )]
        let client = match &self.client {
            Client::Single(client, ..) => client,
            #[cfg(feature = "redis-cluster")]
            Client::Cluster(_) => return Ok(None),
        };
        self.breaker.admit()?;
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok(pubsub)
        };
        match tokio::time::timeout(self.timeout, subscribed).await {
            Ok(done) => done.map(Some).map_err(backend_error),
            Err(_) => Err(self.timed_out()),
        }
    }

    /// The deadline of one operation.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn async_conn(&self, runtime: &Handle) -> RedisResult<AsyncConn> {
        let id = runtime.id();
        let cell = {
            let mut runtimes = self.runtimes.lock();
            match runtimes.iter().find(|(rt, _)| *rt == id) {
                Some((_, cell)) => cell.clone(),
                None => {
                    if runtimes.len() == MAX_RUNTIMES {
                        runtimes.remove(0);
                    }
                    let cell = Arc::new(OnceCell::new());
                    runtimes.push((id, cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_try_init(|| self.connect_async()).await.cloned()
    }

    fn forget_async_conn(&self, id: tokio::runtime::Id) {
        self.runtimes.lock().retain(|(rt, _)| *rt != id);
    }

    async fn connect_async(&self) -> RedisResult<AsyncConn> {
        match &self.client {
            Client::Single(client, ..) => {
                // One attempt per reconnect: the breaker, not the driver, paces retries, so a
                // refused connection fails the call at once instead of backing off inside it.
                // No response timeout in the driver: `run_async` already bounds every operation,
                // and a second timer per request would cost the hit path for nothing.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(None)
                    .set_number_of_retries(0);
                ConnectionManager::new_lazy_with_config(client.clone(), config)
                    .map(AsyncConn::Single)
            }
            #[cfg(feature = "redis-cluster")]
            Client::Cluster(client) => client.get_async_connection().await.map(AsyncConn::Cluster),
        }
    }
}

/// Sends `cmds` on the blocking cluster connection, one pipeline per node: their replies in
/// order. `replayable` says whether a command may run twice with the same result (reads, `SET`s).
///
/// The driver's blocking cluster pipeline (redis 1.8) follows `MOVED` and `ASK` only when they
/// arrive as errors of the read, but they arrive as replies, and it then fails the whole pipeline
/// with no reply for the commands that did run. So while a slot migrates, a pipeline of
/// replayable commands that met a redirect (or `TRYAGAIN`, `CLUSTERDOWN`) is sent again one
/// command at a time, which follows redirects and refreshes the slot map; commands that must not
/// run twice (deletes that count what they deleted) always go one at a time: one round trip per
/// command, each naming one slot group.
#[cfg(feature = "redis-cluster")]
pub(crate) fn cluster_pipeline(
    conn: &mut ClusterConnection,
    cmds: &[Cmd],
    replayable: bool,
) -> RedisResult<Vec<Value>> {
    if replayable {
        let mut pipe = redis::cluster::cluster_pipe();
        for cmd in cmds {
            pipe.add_command(cmd.clone());
        }
        match pipe.query(conn) {
            Err(e) if redirected(e.clone()) => {}
            done => return done,
        }
    }
    cmds.iter().map(|cmd| conn.req_command(cmd)).collect()
}

/// Whether every failure of a pipeline is a redirect or a cluster state to retry.
#[cfg(feature = "redis-cluster")]
fn redirected(e: RedisError) -> bool {
    e.into_server_errors().is_some_and(|errors| {
        errors
            .iter()
            .all(|(_, e)| RedisError::from(e.clone()).is_cluster_error())
    })
}

/// The CA that signs the server's certificate, instead of the system's roots.
#[cfg(feature = "redis-tls")]
fn certificates(ca: &[u8]) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(ca.to_vec()),
    }
}

/// Classifies a driver error: unreachable, slow, or an answer Redis gave.
pub(crate) fn backend_error(e: RedisError) -> BackendError {
    let kind = if e.is_timeout() {
        BackendErrorKind::Timeout
    } else if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
    {
        BackendErrorKind::Unavailable
    } else {
        BackendErrorKind::Protocol
    };
    BackendError::new(KIND, kind, e)
}
