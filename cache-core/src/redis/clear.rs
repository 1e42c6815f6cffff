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
enum Node {
    /// The only server.
    Only,
    /// One cluster primary.
    At(RoutingInfo),
}

/// A `SCAN` reply: the next cursor and a batch of keys.
type Step = (u64, Vec<Vec<u8>>);

/// The state of a walk, shared by the sync and async loops: which command comes next.
struct Walker {
    pattern: Vec<u8>,
    walk: Walk,
    /// The cursor of the next `SCAN` on the current node, or `None` once it is exhausted.
    cursor: Option<u64>,
    found: u64,
}

impl Walker {
    fn new(space: &KeySpace, walk: Walk) -> Self {
        Self {
            pattern: space.pattern(),
            walk,
            cursor: None,
            found: 0,
        }
    }

    fn start_node(&mut self) {
        self.cursor = Some(0);
    }

    /// The next `SCAN` on the current node, if it has more.
    fn scan(&self) -> Option<Cmd> {
        let cursor = self.cursor?;
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(&self.pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT);
        Some(cmd)
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

/// Walks every key of `space`; the number of keys found.
pub(crate) fn walk_sync(
    connector: &Connector,
    space: &KeySpace,
    walk: Walk,
) -> Result<u64, BackendError> {
    let nodes = if connector.is_cluster() {
        connector.run_sync(|conn| match conn {
            SyncConn::Cluster(c) => {
                primaries(c.route_command(&redis::cmd("PING"), all_primaries())?)
            }
            SyncConn::Single(_) => Ok(vec![Node::Only]),
        })?
    } else {
        vec![Node::Only]
    };
    let mut walker = Walker::new(space, walk);
    for node in &nodes {
        walker.start_node();
        while let Some(scan) = walker.scan() {
            let step = connector.run_sync(|conn| match (conn, node) {
                (SyncConn::Cluster(c), Node::At(route)) => {
                    Ok(from_redis_value(c.route_command(&scan, route.clone())?)?)
                }
                (conn, _) => scan.query(conn.as_dyn()),
            })?;
            if let Some(unlink) = walker.absorb(step) {
                connector.run_sync(|conn| unlink.exec(conn.as_dyn()))?;
            }
        }
    }
    Ok(walker.found)
}

/// Async form of [`walk_sync`].
pub(crate) async fn walk_async(
    connector: &Connector,
    space: &KeySpace,
    walk: Walk,
) -> Result<u64, BackendError> {
    let nodes = if connector.is_cluster() {
        connector
            .run_async(|conn| async move {
                match conn {
                    AsyncConn::Cluster(mut c) => {
                        primaries(c.route_command(redis::cmd("PING"), all_primaries()).await?)
                    }
                    AsyncConn::Single(_) => Ok(vec![Node::Only]),
                }
            })
            .await?
    } else {
        vec![Node::Only]
    };
    let mut walker = Walker::new(space, walk);
    for node in &nodes {
        walker.start_node();
        while let Some(scan) = walker.scan() {
            let step = connector
                .run_async(|conn| async move {
                    match (conn, node) {
                        (AsyncConn::Cluster(mut c), Node::At(route)) => Ok(from_redis_value(
                            c.route_command(scan, route.clone()).await?,
                        )?),
                        (mut conn, _) => scan.query_async(&mut conn).await,
                    }
                })
                .await?;
            if let Some(unlink) = walker.absorb(step) {
                connector
                    .run_async(|mut conn| async move { unlink.exec_async(&mut conn).await })
                    .await?;
            }
        }
    }
    Ok(walker.found)
}
