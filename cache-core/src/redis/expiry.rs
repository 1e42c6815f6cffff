//! The single-key operations that judge or rewrite a value by its envelope header:
//! [`take`](crate::Backend::take), [`contains_key`](crate::Backend::contains_key),
//! [`ttl`](crate::Backend::ttl), [`expire`](crate::Backend::expire) and
//! [`touch`](crate::Backend::touch).
//!
//! Each is one command, judged on memokit's clock as `get` judges a value (the deadline in the
//! header against the caller's clock, and the type identity), so a sandbox's `advance` expires
//! an entry for all of them:
//!
//! * `take` is `GETDEL` (Redis 6.2 or later): the value is gone whatever it was, and returned only
//!   if it was live and of the cache's types.
//! * `contains_key` and `ttl` read the 28-byte header (`GETRANGE key 0 27`), not the value, and do
//!   not count as a read for a time to idle. `ttl` is the header's deadline less now; on a cache
//!   with a time to idle that deadline is the last read plus the idle time (every write and every
//!   read puts it there), so it is the nearer of the two.
//! * `expire` is a script that, only if the value is live, rewrites the deadline in its header
//!   (`SETRANGE`) and Redis's expiry (`PEXPIRE`) together. `expire(key, None)` (persist) sets no
//!   deadline and `PERSIST`s the key, except on a cache with a time to idle, which still applies:
//!   there it sets the deadline and expiry to the idle time from now, as a read would.
//! * `touch` on a cache with a time to idle is the idle read, returning only the header; on a cache
//!   without one there is nothing to push back, so it is `contains_key`.

use std::time::Duration;

use redis::Cmd;
use serde::de::DeserializeOwned;

use crate::backend::Ttl;
use crate::clock::Timestamp;
use crate::error::BackendError;

use super::backend::{RedisBackend, px};
use super::clear::header_of;
use super::idle::{self, Reply};

/// KEYS[1]: the entry. ARGV[1]: the envelope's head for the cache's types, ARGV[2]: now,
/// ARGV[3]: the new deadline (8 bytes each; zeros for none), ARGV[4]: Redis's new expiry in
/// milliseconds, or empty to persist. Returns 1 if the value was live and got the new expiry.
const EXPIRE: &str = concat!(
    lua_live!(),
    r"
local header = redis.call('GETRANGE', KEYS[1], 0, 27)
if not live(header, ARGV[1], ARGV[2]) then return 0 end
redis.call('SETRANGE', KEYS[1], 20, ARGV[3])
if ARGV[4] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
"
);

impl RedisBackend {
    /// `GETDEL key`, for `take`.
    pub(crate) fn take_cmd(key: Vec<u8>) -> Cmd {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(key);
        cmd
    }

    /// The value `take` removed, if it was a live `K -> V` entry at `now`.
    pub(crate) fn taken<K, V: DeserializeOwned>(
        &self,
        bytes: Option<Vec<u8>>,
        now: Timestamp,
    ) -> Result<Option<V>, BackendError> {
        let bytes = bytes.filter(|bytes| self.is_live::<K, V>(bytes, now));
        Ok(self.found::<K, V>(bytes, now)?.map(|found| found.value))
    }

    /// Whether `header` is that of a live `K -> V` entry at `now`.
    pub(crate) fn is_live<K, V>(&self, header: &[u8], now: Timestamp) -> bool {
        self.envelope()
            .is_live(self.identity::<K, V>(), header, now)
    }

    /// The time a `K -> V` entry whose header is `header` has left at `now`.
    pub(crate) fn ttl_in<K, V>(&self, header: &[u8], now: Timestamp) -> Ttl {
        self.envelope().ttl(self.identity::<K, V>(), header, now)
    }

    /// The touch of `key` at `now`: an idle read that returns the header, or with no time to
    /// idle, the read of the header. Either replies with the header or nothing.
    pub(crate) fn touch_cmd<K, V>(&self, key: Vec<u8>, now: Timestamp) -> Cmd {
        match self.tti() {
            Some(tti) => idle::read(&key, self.head::<K, V>(), now, tti, Reply::Header),
            None => header_of(&key),
        }
    }

    /// The rewrite of `key`'s expiry to `ttl` from `now` (`None`: none, or the time to idle);
    /// replies 1 if the key held a live `K -> V` entry.
    pub(crate) fn expire_cmd<K, V>(
        &self,
        key: Vec<u8>,
        ttl: Option<Duration>,
        now: Timestamp,
    ) -> Cmd {
        let ttl = ttl.or(self.tti().map(|(tti, _)| tti));
        let deadline = ttl.map_or(0, |ttl| now.saturating_add(ttl).as_nanos().max(1));
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(EXPIRE)
            .arg(1)
            .arg(key)
            .arg(&self.head::<K, V>()[..])
            .arg(&now.as_nanos().to_le_bytes()[..])
            .arg(&deadline.to_le_bytes()[..])
            .arg(ttl.map(|ttl| px(ttl).to_string()).unwrap_or_default());
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_rewrites_the_deadline_where_the_envelope_keeps_it() {
        assert!(EXPIRE.contains("'SETRANGE', KEYS[1], 20, ARGV[3]"));
        assert!(EXPIRE.contains("'GETRANGE', KEYS[1], 0, 27"));
    }
}
