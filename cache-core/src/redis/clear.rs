//! Walking a view's keys with `SCAN ... MATCH`, on the one server or on every cluster primary, to
//! delete them with `UNLINK` (clear) or count them.
//!
//! `SCAN` visits a node's keyspace in small steps, so a large database is never blocked the way
//! `KEYS` blocks it, and `UNLINK` frees memory off Redis's main thread. Each step is one operation
//! with its own deadline. A cluster's cursor is per node, so the walk asks every primary for its
//! keys, addressing it by `host:port`; the `UNLINK` of a batch then goes through the cluster
//! client, which splits it by slot.

use std::collections::HashMap;

use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, RedisResult, Value, from_redis_value};

use crate::error::BackendError;

use super::connection::{AsyncConn, Connector, SyncConn};
use super::keys::KeySpace;

/// Keys asked of `SCAN` per step: a hint that bounds the work of one step on the server.
const SCAN_COUNT: usize = 500;

/// What to do with the keys found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    Unlink,
    Count,
}

/// Where one `SCAN` cursor lives.
#[derive(Clone)]
enum Node {
    /// The only server.
    Only,
    /// One cluster primary.
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
        }
    }

    /// Walks every key of the view; the number of keys found.
    pub(crate) fn run_sync(mut self, connector: &Connector) -> Result<u64, BackendError> {
        if connector.is_cluster() {
            self.on(connector.run_sync(|conn| match conn {
                SyncConn::Cluster(c) => {
                    primaries(c.route_command(&redis::cmd("PING"), all_primaries())?)
                }
                SyncConn::Single(_) => Ok(vec![Node::Only]),
            })?);
        }
        while let Some((scan, node)) = self.scan() {
            let step = connector.run_sync(|conn| match (conn, node) {
                (SyncConn::Cluster(c), Node::At(route)) => {
                    Ok(from_redis_value(c.route_command(&scan, route)?)?)
                }
                (conn, _) => scan.query(conn.as_dyn()),
            })?;
            if let Some(unlink) = self.absorb(step) {
                connector.run_sync(|conn| unlink.exec(conn.as_dyn()))?;
            }
        }
        Ok(self.found)
    }

    /// Async form of [`run_sync`](Self::run_sync).
    pub(crate) async fn run_async(mut self, connector: &Connector) -> Result<u64, BackendError> {
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
            let step = connector
                .run_async(|conn| async move {
                    match (conn, node) {
                        (AsyncConn::Cluster(mut c), Node::At(route)) => {
                            Ok(from_redis_value(c.route_command(scan, route).await?)?)
                        }
                        (mut conn, _) => scan.query_async(&mut conn).await,
                    }
                })
                .await?;
            if let Some(unlink) = self.absorb(step) {
                connector
                    .run_async(|mut conn| async move { unlink.exec_async(&mut conn).await })
                    .await?;
            }
        }
        Ok(self.found)
    }
    /// Walks `nodes` (a cluster's primaries) instead of the only server.
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
        Some((cmd, node))
    }

    /// Takes a `SCAN` reply; the `UNLINK` of its keys when clearing.
    fn absorb(&mut self, (next, keys): Step) -> Option<Cmd> {
        self.cursor = (next != 0).then_some(next);
        self.found += keys.len() as u64;
        if self.walk == Walk::Count || keys.is_empty() {
            return None;
        }
        let mut cmd = redis::cmd("UNLINK");
        cmd.arg(keys);
        Some(cmd)
    }
}

fn all_primaries() -> RoutingInfo {
    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None))
}

/// The primaries named in a reply routed to all of them (a map from `host:port`).
fn primaries(reply: Value) -> RedisResult<Vec<Node>> {
    let by_address: HashMap<String, Value> = from_redis_value(reply)?;
    Ok(by_address
        .into_keys()
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
