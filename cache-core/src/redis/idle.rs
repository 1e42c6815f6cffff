//! Reads of a cache with a time to idle: one script that returns the value and, unless it has
//! expired on memokit's clock, pushes both its deadline (in the envelope) and Redis's own expiry
//! back by the idle time.
//!
//! A plain `GETEX ... PX` would push back only Redis's expiry, and the envelope's deadline would
//! then expire an entry that is read all the time. The script runs atomically on the server, on
//! the one key it names, so it works on Redis Cluster too; it is sent with `EVAL` (Redis caches
//! the compiled script by its hash) and costs a read a few hundred bytes more than `GET`.
//! The deadline is compared byte by byte, most significant first: Lua 5.1 numbers are doubles and
//! cannot hold nanoseconds exactly.

use std::time::Duration;

use redis::Cmd;

use crate::clock::Timestamp;
use crate::codec::TAG;

/// KEYS[1]: the entry. ARGV[1]: now, ARGV[2]: the new deadline (8 bytes each, little-endian
/// nanoseconds on memokit's clock). ARGV[3]: Redis's new expiry in milliseconds. ARGV[4]: the
/// envelope's first bytes (magic and version). The offsets are those of [`crate::codec`]'s layout.
const SCRIPT: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
if string.len(v) < 28 or string.sub(v, 1, 3) ~= ARGV[4] then return v end
local deadline = string.sub(v, 21, 28)
local live = deadline == string.rep('\0', 8)
if not live then
  for i = 8, 1, -1 do
    local now, d = string.byte(ARGV[1], i), string.byte(deadline, i)
    if now ~= d then live = now < d break end
  end
end
if live then
  redis.call('SETRANGE', KEYS[1], 20, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return v
";

/// The read of `key` at `now` for a cache idling out after `tti` (`px` in Redis's milliseconds).
pub(crate) fn read(key: &[u8], now: Timestamp, tti: Duration, px: u64) -> Cmd {
    let deadline = now.saturating_add(tti).as_nanos().max(1);
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(SCRIPT)
        .arg(1)
        .arg(key)
        .arg(&now.as_nanos().to_le_bytes()[..])
        .arg(&deadline.to_le_bytes()[..])
        .arg(px)
        .arg(&TAG[..]);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{DEADLINE_AT, HEADER_LEN};

    #[test]
    fn the_script_reads_the_envelope_where_it_is() {
        // Lua counts from 1: bytes 21..=28 are the deadline at offset 20, and 28 the header.
        assert_eq!((DEADLINE_AT, HEADER_LEN, TAG.len()), (20, 28, 3));
        assert!(SCRIPT.contains("string.sub(v, 21, 28)"));
        assert!(SCRIPT.contains("'SETRANGE', KEYS[1], 20,"));
    }
}
