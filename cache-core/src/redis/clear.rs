//! Walking a view's keys with `SCAN ... MATCH`, on the one server or on every cluster primary, to
//! delete them with `UNLINK` (clear), count them, count the live entries among them, or read
//! their values a step at a time (iteration, in the `iterate` file).
//!
//! `SCAN` visits a node's keyspace in small steps, so a large database is never blocked the way
//! `KEYS` blocks it, and `UNLINK` frees memory off Redis's main thread. Each step is one operation
//! with its own deadline. A cluster's cursor is per node, so the walk asks every primary for its
//! keys, addressing it by `host:port`; the `UNLINK` of a batch then goes through the cluster
//! client, which splits it by slot.
//!
//! Counting live entries scans for strings only (`SCAN ... TYPE string`, so hashes are not
//! entries) and reads the envelope header of each batch's values with one pipeline of
//! `GETRANGE key 0 27`, sent to the node the batch came from: never the values themselves.

#[cfg(feature = "redis-cluster")]
use std::collections::HashMap;

#[cfg(feature = "redis-cluster")]
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, Value};
#[cfg(feature = "redis-cluster")]
use redis::{RedisResult, from_redis_value};

use crate::backend::Cursor;
use crate::clock::Timestamp;
use crate::codec::{Envelope, HEADER_LEN, TypeIdentity};
use crate::error::BackendError;

#[cfg(feature = "redis-cluster")]
use super::connection::{AsyncConn, cluster_pipeline};
use super::connection::{Connector, SyncConn};
use super::keys::KeySpace;

/// Keys asked of `SCAN` per step: a hint that bounds the work of one step on the server.
const SCAN_COUNT: usize = 500;

/// What to do with the keys found.
pub(crate) enum Walk {
    /// Delete them.
    Unlink,
    /// Count them.
    Count,
    /// Count the entries among them that a read of a value of `identity` would return at `now`.
    Live {
        envelope: Envelope,
        identity: TypeIdentity,
        now: Timestamp,
    },
    /// Read their values, one step at a time ([`Walker::entries`]).
    Entries,
}

/// What follows a `SCAN` step.
enum Then {
    /// `UNLINK` the batch.
    Unlink(Cmd),
    /// Read these keys' envelope headers, or for [`Walk::Entries`], their values.
    Read(Vec<Vec<u8>>),
}

/// Where one `SCAN` cursor lives.
#[derive(Clone)]
enum Node {
    /// The only server.
    Only,
    /// One cluster primary.
    #[cfg(feature = "redis-cluster")]
    At(RoutingInfo),
}

/// A `SCAN` reply: the next cursor and a batch of keys.
type Step = (u64, Vec<Vec<u8>>);

/// A walk over one view's keys, driven by [`run_sync`](Self::run_sync) or
/// [`run_async`](Self::run_async); between steps its state says which command comes next, and where.
pub(crate) struct Walker {
    pattern: Vec<u8>,
    walk: Walk,
    /// The nodes to walk: the only server, or a cluster's primaries once [`on`](Self::on) has them.
    nodes: Vec<Node>,
    /// The index in `nodes` of the node being walked.
    node: usize,
    /// The cursor of the next `SCAN` on that node, or `None` once it is exhausted.
    cursor: Option<u64>,
    found: u64,
    /// The keys and values of the last step of a [`Walk::Entries`].
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Walker {
    /// A walk over the keys of `space` that does `walk` with them.
    pub(crate) fn new(space: &KeySpace, walk: Walk) -> Self {
        Self {
            pattern: space.pattern(),
            walk,
            nodes: vec![Node::Only],
            node: 0,
            cursor: Some(0),
            found: 0,
            entries: Vec::new(),
        }
    }

    /// A walk like [`new`](Self::new)'s that goes on from `cursor`.
    pub(crate) fn resume(space: &KeySpace, walk: Walk, cursor: Cursor) -> Self {
        Self {
            node: cursor.part() as usize,
            cursor: Some(cursor.position()),
            ..Self::new(space, walk)
        }
    }

    /// Where the walk goes on from, or `None` if it is done.
    pub(crate) fn cursor(&self) -> Option<Cursor> {
        let part = |node: usize| u32::try_from(node).expect("a cluster has few primaries");
        match self.cursor {
            Some(position) => Some(Cursor::new(part(self.node), position)),
            None if self.node + 1 < self.nodes.len() => Some(Cursor::new(part(self.node + 1), 0)),
            None => None,
        }
    }

    /// The keys and values the last step of a [`Walk::Entries`] read (a key deleted since its
    /// `SCAN` left out).
    pub(crate) fn entries(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        std::mem::take(&mut self.entries)
    }

    /// Walks every key of the view; the number of keys found.
    pub(crate) fn run_sync(mut self, connector: &Connector) -> Result<u64, BackendError> {
        self.find_nodes(connector)?;
        while self.step_sync(connector)? {}
        Ok(self.found)
    }

    /// Learns the nodes to walk: a cluster's primaries, in the order of their addresses so that
    /// a [`Cursor`]'s part names the same node from one call to the next.
    pub(crate) fn find_nodes(&mut self, connector: &Connector) -> Result<(), BackendError> {
        #[cfg(feature = "redis-cluster")]
        if connector.is_cluster() {
            self.on(connector.run_sync(|conn| match conn {
                SyncConn::Cluster(c) => {
                    primaries(c.route_command(&redis::cmd("PING"), all_primaries())?)
                }
                SyncConn::Single(_) => Ok(vec![Node::Only]),
            })?);
        }
        #[cfg(not(feature = "redis-cluster"))]
        let _ = connector;
        Ok(())
    }

    /// One `SCAN` step and what follows it; whether there was a step to take.
    pub(crate) fn step_sync(&mut self, connector: &Connector) -> Result<bool, BackendError> {
        let Some((scan, node)) = self.scan() else {
            return Ok(false);
        };
        let step = connector.run_sync(|conn| match (conn, node) {
            #[cfg(feature = "redis-cluster")]
            (SyncConn::Cluster(c), Node::At(route)) => {
                Ok(from_redis_value(c.route_command(&scan, route)?)?)
            }
            (conn, _) => scan.query(conn.as_dyn()),
        })?;
        match self.absorb(step) {
            Some(Then::Unlink(unlink)) => {
                connector.run_sync(|conn| unlink.exec(conn.as_dyn()))?;
            }
            Some(Then::Read(keys)) => {
                let values = connector.run_sync(|conn| match conn {
                    // The blocking cluster connection pipelines only through its own type,
                    // which routes each command by its key.
                    #[cfg(feature = "redis-cluster")]
                    SyncConn::Cluster(c) => {
                        let reads: Vec<_> = keys.iter().map(|key| self.read_of(key)).collect();
                        cluster_pipeline(c, &reads, true)
                    }
                    SyncConn::Single(c) => self.reads(&keys).query(c),
                })?;
                self.tally(keys, values);
            }
            None => {}
        }
        Ok(true)
    }

    /// Async form of [`run_sync`](Self::run_sync).
    pub(crate) async fn run_async(mut self, connector: &Connector) -> Result<u64, BackendError> {
        #[cfg(feature = "redis-cluster")]
        if connector.is_cluster() {
            let nodes = connector.run_async(|conn| async move {
                match conn {
                    AsyncConn::Cluster(mut c) => {
                        primaries(c.route_command(redis::cmd("PING"), all_primaries()).await?)
                    }
                    AsyncConn::Single(_) => Ok(vec![Node::Only]),
                }
            });
            self.on(nodes.await?);
        }
        while let Some((scan, node)) = self.scan() {
            let at = node.clone();
            let step = connector
                .run_async(|conn| async move {
                    match (conn, node) {
                        #[cfg(feature = "redis-cluster")]
                        (AsyncConn::Cluster(mut c), Node::At(route)) => {
                            Ok(from_redis_value(c.route_command(scan, route).await?)?)
                        }
                        (mut conn, _) => scan.query_async(&mut conn).await,
                    }
                })
                .await?;
            match self.absorb(step) {
                Some(Then::Unlink(unlink)) => {
                    connector
                        .run_async(|mut conn| async move { unlink.exec_async(&mut conn).await })
                        .await?;
                }
                Some(Then::Read(keys)) => {
                    let reads = self.reads(&keys);
                    let values = connector.run_async(|conn| async move {
                        match (conn, at) {
                            // To the node just scanned, which holds every key of the batch.
                            #[cfg(feature = "redis-cluster")]
                            (
                                AsyncConn::Cluster(mut c),
                                Node::At(RoutingInfo::SingleNode(route)),
                            ) => {
                                let count = reads.len();
                                c.route_pipeline(reads, 0, count, route).await
                            }
                            (mut conn, _) => reads.query_async(&mut conn).await,
                        }
                    });
                    let values = values.await?;
                    self.tally(keys, values);
                }
                None => {}
            }
        }
        Ok(self.found)
    }

    /// Walks `nodes` (a cluster's primaries) instead of the only server.
    #[cfg(feature = "redis-cluster")]
    fn on(&mut self, nodes: Vec<Node>) {
        self.nodes = nodes;
    }

    /// The next `SCAN` and the node it goes to, moving on to the next node when one is exhausted;
    /// `None` when every node is.
    fn scan(&mut self) -> Option<(Cmd, Node)> {
        let cursor = match self.cursor {
            Some(cursor) => cursor,
            // This node is exhausted: the next one starts at cursor 0.
            None => {
                self.node += 1;
                self.cursor = Some(0);
                0
            }
        };
        let node = self.nodes.get(self.node)?.clone();
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(&self.pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT);
        if matches!(self.walk, Walk::Live { .. } | Walk::Entries) {
            cmd.arg("TYPE").arg("string");
        }
        Some((cmd, node))
    }

    /// Takes a `SCAN` reply; what to do with its keys next, if anything.
    fn absorb(&mut self, (next, keys): Step) -> Option<Then> {
        self.cursor = (next != 0).then_some(next);
        if keys.is_empty() {
            return None;
        }
        match self.walk {
            Walk::Count => {
                self.found += keys.len() as u64;
                None
            }
            Walk::Unlink => {
                self.found += keys.len() as u64;
                let mut cmd = redis::cmd("UNLINK");
                cmd.arg(keys);
                Some(Then::Unlink(cmd))
            }
            Walk::Live { .. } | Walk::Entries => Some(Then::Read(keys)),
        }
    }

    /// Counts the live entries among a batch's headers, or keeps the batch's values.
    fn tally(&mut self, keys: Vec<Vec<u8>>, values: Vec<Value>) {
        let read = keys
            .into_iter()
            .zip(values)
            .filter_map(|(key, value)| match value {
                Value::BulkString(bytes) => Some((key, bytes)),
                _ => None,
            });
        match &self.walk {
            Walk::Live {
                envelope,
                identity,
                now,
            } => {
                self.found += read
                    .filter(|(_, header)| envelope.is_live(*identity, header, *now))
                    .count() as u64;
            }
            Walk::Entries => {
                self.entries = read.collect();
                self.found += self.entries.len() as u64;
            }
            Walk::Unlink | Walk::Count => {}
        }
    }

    /// The read of one key of a batch: its header, or for [`Walk::Entries`], its value.
    fn read_of(&self, key: &[u8]) -> Cmd {
        if let Walk::Entries = self.walk {
            let mut cmd = redis::cmd("GET");
            cmd.arg(key);
            cmd
        } else {
            header_of(key)
        }
    }

    /// One pipeline reading `keys`. A key deleted since the scan reads as nothing (or an empty
    /// header), and one that changed type as an error in its place, not as the pipeline's.
    fn reads(&self, keys: &[Vec<u8>]) -> Pipeline {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for key in keys {
            pipe.add_command(self.read_of(key));
        }
        pipe
    }
}

/// The first [`HEADER_LEN`] bytes of `key`'s value.
pub(crate) fn header_of(key: &[u8]) -> Cmd {
    let mut cmd = redis::cmd("GETRANGE");
    cmd.arg(key).arg(0).arg(HEADER_LEN - 1);
    cmd
}

#[cfg(feature = "redis-cluster")]
fn all_primaries() -> RoutingInfo {
    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None))
}

/// The primaries named in a reply routed to all of them (a map from `host:port`).
#[cfg(feature = "redis-cluster")]
fn primaries(reply: Value) -> RedisResult<Vec<Node>> {
    let by_address: HashMap<String, Value> = from_redis_value(reply)?;
    let mut addresses: Vec<String> = by_address.into_keys().collect();
    addresses.sort_unstable();
    Ok(addresses
        .into_iter()
        .filter_map(|address| {
            let (host, port) = address.rsplit_once(':')?;
            Some(Node::At(RoutingInfo::SingleNode(
                SingleNodeRoutingInfo::ByAddress {
                    host: host.to_string(),
                    port: port.parse().ok()?,
                },
            )))
        })
        .collect())
}
