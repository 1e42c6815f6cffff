//! Reads of a cache with a time to idle: one script that returns the value and, unless it has
//! expired on memokit's clock, pushes both its deadline (in the envelope) and Redis's own expiry
//! back by the idle time.
//!
//! A plain `GETEX ... PX` would push back only Redis's expiry, and the envelope's deadline would
//! then expire an entry that is read all the time. The script runs atomically on the server, on
//! the one key it names, so it works on Redis Cluster too; it is sent with `EVAL` (Redis caches
//! the compiled script by its hash) and costs a read a few hundred bytes more than `GET`.
//! [`touch`](crate::Backend::touch) runs the same script and has it return only the header.

use std::time::Duration;

use redis::Cmd;

use crate::clock::Timestamp;
use crate::codec::HEAD_LEN;

/// KEYS[1]: the entry. ARGV[1]: now, ARGV[2]: the new deadline (8 bytes each, little-endian
/// nanoseconds on memokit's clock). ARGV[3]: Redis's new expiry in milliseconds. ARGV[4]: the
/// envelope's head for the cache's types. ARGV[5], if given: return only the 28-byte header.
const SCRIPT: &str = concat!(
    lua_live!(),
    r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
if live(v, ARGV[4], ARGV[1]) then
  redis.call('SETRANGE', KEYS[1], 20, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if ARGV[5] then return string.sub(v, 1, 28) end
return v
"
);

/// What an idle read returns.
#[derive(Clone, Copy)]
pub(crate) enum Reply {
    /// The value.
    Value,
    /// Its header only (a touch).
    Header,
}

/// The read of `key` at `now` for a cache idling out after `tti` (`px` in Redis's milliseconds),
/// whose values start with `head`.
pub(crate) fn read(
    key: &[u8],
    head: [u8; HEAD_LEN],
    now: Timestamp,
    (tti, px): (Duration, u64),
    reply: Reply,
) -> Cmd {
    let deadline = now.saturating_add(tti).as_nanos().max(1);
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(SCRIPT)
        .arg(1)
        .arg(key)
        .arg(&now.as_nanos().to_le_bytes()[..])
        .arg(&deadline.to_le_bytes()[..])
        .arg(px)
        .arg(&head[..]);
    if let Reply::Header = reply {
        cmd.arg(1);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{DEADLINE_AT, HEADER_LEN};

    #[test]
    fn the_scripts_read_the_envelope_where_it_is() {
        // Lua counts from 1: bytes 21..=28 are the deadline at offset 20, and 28 the header.
        assert_eq!((DEADLINE_AT, HEADER_LEN, HEAD_LEN), (20, 28, 12));
        let live = lua_live!();
        assert!(live.contains("string.sub(v, 21, 28)"));
        assert!(live.contains("string.sub(v, 1, 12)"));
        assert!(SCRIPT.contains("'SETRANGE', KEYS[1], 20,"));
        assert!(SCRIPT.contains("string.sub(v, 1, 28)"));
    }
}
