//! A blocking connection to one Redis node on which an operation keeps one deadline, from the
//! TCP connect to the last reply.
//!
//! A socket's read timeout bounds one read, not an operation: the `redis` crate's blocking
//! connection reads each reply of a pipeline (its own connection setup included: `CLIENT SETINFO`
//! twice, `SELECT`) with the full timeout, and after a timed-out reply goes on to wait for the
//! next. On a frozen server a fresh connection then took two timeouts and a three-command
//! pipeline three. So this connection sets the socket's timeouts to what is left of the deadline
//! before every write and every reply, gives up once nothing is left, and stops reading a pipeline
//! at its first I/O error (the connection is dropped after one anyway: see `Connector::on_pooled`).
//!
//! Connecting goes the same way: the crate's setup is given at most one reply to read (`AUTH`, or
//! `HELLO` for RESP3), with the deadline's remainder as its timeout, and the database is selected
//! here. `CLIENT SETINFO` is not sent: it is informational, and it would cost every new
//! connection a round trip.

use std::io;
use std::time::{Duration, Instant};

use redis::{Cmd, ConnectionInfo, ConnectionLike, RedisError, RedisResult, Value};

/// A blocking connection to one node; see the [module docs](self).
pub(crate) struct Blocking {
    conn: redis::Connection,
    db: i64,
    deadline: Instant,
}

/// How to open [`Blocking`] connections to one node: the client the `redis` crate connects with
/// (TLS settings included), minus the parts of its setup that would read more than one reply.
pub(crate) struct Opener {
    client: redis::Client,
    db: i64,
}

impl Opener {
    /// An opener for the node `client` connects to.
    pub(crate) fn new(client: &redis::Client) -> RedisResult<Self> {
        let db = client.get_connection_info().redis_settings().db();
        Self::with(client, db, |settings| settings)
    }

    /// An opener of connections that only listen ([`Blocking::subscribe`]): on RESP3, whose
    /// published messages are pushes, which a read that timed out does not make the next read
    /// skip as a late reply (RESP2 messages would be); with no database to select, since
    /// pub/sub ignores it.
    pub(crate) fn listening(client: &redis::Client) -> RedisResult<Self> {
        Self::with(client, 0, |settings| {
            settings.set_protocol(redis::ProtocolVersion::RESP3)
        })
    }

    fn with(
        client: &redis::Client,
        db: i64,
        adjust: impl FnOnce(redis::RedisConnectionInfo) -> redis::RedisConnectionInfo,
    ) -> RedisResult<Self> {
        let info: &ConnectionInfo = client.get_connection_info();
        let settings = info
            .redis_settings()
            .clone()
            .set_db(0)
            .set_skip_set_lib_name();
        let bare = info.clone().set_redis_settings(adjust(settings));
        Ok(Self {
            client: redis::Client::open(bare)?,
            db,
        })
    }

    /// Connects, authenticates and selects the database, all before `deadline`.
    pub(crate) fn open(&self, deadline: Instant) -> RedisResult<Blocking> {
        let conn = self.client.get_connection_with_timeout(left(deadline)?)?;
        let mut conn = Blocking {
            conn,
            db: self.db,
            deadline,
        };
        if self.db != 0 {
            redis::cmd("SELECT").arg(self.db).query::<()>(&mut conn)?;
        }
        Ok(conn)
    }
}

/// What is left until `deadline`, or a timeout error if nothing is.
fn left(deadline: Instant) -> RedisResult<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(RedisError::from(io::Error::new(
            io::ErrorKind::TimedOut,
            "the operation's deadline passed",
        ))),
    }
}

impl Blocking {
    /// Starts an operation that must end by `deadline`.
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// Subscribes this connection (from [`Opener::listening`]) to `channel`; it then only
    /// listens.
    pub(crate) fn subscribe(&mut self, channel: &[u8]) -> RedisResult<()> {
        self.send(&redis::cmd("SUBSCRIBE").arg(channel).get_packed_command())?;
        // The confirmation, a push on RESP3.
        self.recv().map(drop)
    }

    /// Waits until `deadline` for a message on a subscribed connection; whether one came.
    pub(crate) fn message(&mut self, deadline: Instant) -> RedisResult<bool> {
        self.deadline = deadline;
        match self.recv() {
            Ok(_) => Ok(true),
            Err(e) if e.is_timeout() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> RedisResult<()> {
        self.conn.set_write_timeout(Some(left(self.deadline)?))?;
        self.conn.send_packed_command(bytes)
    }

    fn recv(&mut self) -> RedisResult<Value> {
        self.conn.set_read_timeout(Some(left(self.deadline)?))?;
        self.conn.recv_response()
    }
}

impl ConnectionLike for Blocking {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.send(cmd)?;
        loop {
            match self.recv()? {
                // RESP3 pushes are not replies.
                Value::Push { .. } => continue,
                reply => return Ok(reply),
            }
        }
    }

    /// Reads the replies as the `redis` crate does (skipping the first `offset`, whose errors
    /// abort a transaction), except that an I/O error ends the read at once.
    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.send(cmd)?;
        let (mut replies, mut aborted) = (Vec::with_capacity(count), None);
        let (mut i, mut end) = (0, offset + count);
        while i < end {
            match self.recv()? {
                Value::Push { .. } => end += 1,
                Value::ServerError(e) if i < offset => {
                    aborted.get_or_insert(e);
                }
                reply if i >= offset => replies.push(reply),
                _ => {}
            }
            i += 1;
        }
        match aborted {
            Some(e) => Err(e.into()),
            None => Ok(replies),
        }
    }

    fn get_db(&self) -> i64 {
        self.db
    }

    fn check_connection(&mut self) -> bool {
        Cmd::new().arg("PING").query::<String>(self).is_ok()
    }

    fn is_open(&self) -> bool {
        self.conn.is_open()
    }
}
