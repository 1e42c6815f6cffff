//! JSON documents on Redis: every operation is one Lua script, atomic on the server.
//!
//! # Why a script of our own, and not RedisJSON or `cjson`
//!
//! A document is stored like every other value: memokit's envelope (type identity, write time,
//! deadline on memokit's clock) followed by the payload, which for a cache of
//! `serde_json::Value` is JSON text (the [`Json`](crate::codec::Json) codec, chosen by itself for
//! such a cache). So [`get`](crate::Cache::get) reads a document like any value, TTLs follow
//! memokit's clock, a sandbox's documents live under its own prefix, and a key holding another
//! type's value (its envelope names another identity) is [`JsonProblem::NotJson`], never a
//! document.
//!
//! RedisJSON's `JSON.*` commands keep documents in a type of their own, which `GET` cannot read
//! and which carries no envelope, so they would split documents off from the rest of the cache
//! (and the module is absent from a plain `redis-server`); memokit does not use them. The `cjson`
//! library every Redis bundles cannot round-trip a document: Redis 7.0's decodes `[]` and `{}` to
//! the same table (an empty array comes back as `{}`) and re-encodes numbers with 14 significant
//! digits. So the script walks the JSON text itself: it validates the whole document, finds the
//! span the path names, and splices the new text in, leaving every other byte as it was; it
//! uses `cjson` only to decode an escaped member name and to encode a new one. An increment
//! reads the integer as a Lua double, so it is refused (a [`JsonProblem::Type`] error) past
//! ±2^53.

use std::time::Duration;

use redis::Cmd;
use serde::Serialize;
use serde_json::Value;

use super::backend::RedisBackend;
use crate::backend::json::{JsonAnswer, JsonBackend, JsonOp, JsonPath, Step};
use crate::bounds::CacheKey;
use crate::clock;
use crate::codec::{HEADER_LEN, Json};
use crate::error::{BackendError, JsonProblem};

/// KEYS[1]: the document. ARGV[1]: now (8 bytes, little-endian nanoseconds on memokit's clock);
/// ARGV[2]: the envelope's head for the cache's types; ARGV[3]: the operation (`get`, `set`,
/// `incr`, `del`, `append`); ARGV[4]: its operand (JSON text, or the increment); ARGV[5]: the
/// header of a new document; ARGV[6]: its expiry in milliseconds (empty: none); then the path,
/// two arguments a step: `f` and a member name, or `i` and an index from 0.
///
/// Returns `{'ok', text}` (a get's JSON, an increment's integer, an append's length), `{'none'}`
/// (no document to get) or `{'err', kind, detail}`, kind one of `missing`, `type` (detail
/// `expected|found`), `range`, `malformed`, `notjson`.
const SCRIPT: &str = concat!(
    lua_live!(),
    r#"
local s
local function fail(kind, detail) error({kind, detail or ''}, 0) end
local function bad(i) fail('malformed', 'at byte ' .. i) end
local function ws(i) return (string.find(s, '[^ \t\r\n]', i)) or (#s + 1) end
local function kind_at(i)
  local c = string.sub(s, i, i)
  if c == '{' then return 'an object' elseif c == '[' then return 'an array'
  elseif c == '"' then return 'a string' elseif c == 't' or c == 'f' then return 'a boolean'
  elseif c == 'n' then return 'null' else return 'a number' end
end
local function skip_string(i)
  local j = i + 1
  while true do
    local c = string.find(s, '["\\%z\1-\31]', j)
    if not c then bad(i) end
    local ch = string.sub(s, c, c)
    if ch == '"' then return c + 1 end
    if ch ~= '\\' then bad(c) end
    local e = string.sub(s, c + 1, c + 1)
    if e == 'u' then
      if not string.find(s, '^%x%x%x%x', c + 2) then bad(c) end
      j = c + 6
    elseif e ~= '' and string.find('"\\/bfnrt', e, 1, true) then
      j = c + 2
    else
      bad(c)
    end
  end
end
local function skip_number(i)
  local _, e = string.find(s, '^-?%d+', i)
  if not e or string.find(s, '^-?0%d', i) then bad(i) end
  local j = e + 1
  local _, f = string.find(s, '^%.%d+', j)
  if f then j = f + 1 end
  local _, x = string.find(s, '^[eE][-+]?%d+', j)
  if x then j = x + 1 end
  return j
end
local function skip_word(i, w)
  if string.sub(s, i, i + #w - 1) ~= w then bad(i) end
  return i + #w
end
local skip
skip = function(i)
  local c = string.sub(s, i, i)
  if c == '{' or c == '[' then
    local close = c == '{' and '}' or ']'
    local j = ws(i + 1)
    if string.sub(s, j, j) == close then return j + 1 end
    while true do
      if c == '{' then
        if string.sub(s, j, j) ~= '"' then bad(j) end
        j = ws(skip_string(j))
        if string.sub(s, j, j) ~= ':' then bad(j) end
        j = ws(j + 1)
      end
      j = ws(skip(j))
      local d = string.sub(s, j, j)
      if d == close then return j + 1 end
      if d ~= ',' then bad(j) end
      j = ws(j + 1)
    end
  elseif c == '"' then return skip_string(i)
  elseif c == 't' then return skip_word(i, 'true')
  elseif c == 'f' then return skip_word(i, 'false')
  elseif c == 'n' then return skip_word(i, 'null')
  else return skip_number(i) end
end
-- The member (or element) `step` of the container at `i`: its spans, or nil and the position
-- of the container's closing bracket.
local function member(i, step)
  local open = string.sub(s, i, i)
  if step.f and open ~= '{' then fail('type', 'an object|' .. kind_at(i)) end
  if step.i and open ~= '[' then fail('type', 'an array|' .. kind_at(i)) end
  local close = step.f and '}' or ']'
  local j = ws(i + 1)
  if string.sub(s, j, j) == close then return nil, j end
  local n, prev = 0, nil
  while true do
    local start, vs, hit = j, j, false
    if step.f then
      local ke = skip_string(j)
      local name = string.sub(s, j + 1, ke - 2)
      if string.find(name, '\\', 1, true) then name = cjson.decode(string.sub(s, j, ke - 1)) end
      hit = name == step.f
      vs = ws(ws(ke) + 1)
    else
      hit = n == step.i
    end
    local ve = skip(vs)
    local after = ws(ve)
    local nxt = string.sub(s, after, after) == ',' and ws(after + 1) or nil
    if hit then return {start = start, vs = vs, ve = ve, prev = prev, nxt = nxt} end
    if not nxt then return nil, after end
    prev, n, j = ve, n + 1, nxt
  end
end
local now, head, op, operand, fresh, px = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local steps = {}
for k = 7, #ARGV, 2 do
  if ARGV[k] == 'f' then steps[#steps + 1] = {f = ARGV[k + 1]}
  else steps[#steps + 1] = {i = tonumber(ARGV[k + 1])} end
end
local function walk(upto)
  local i = ws(1)
  for k = 1, upto do
    local m = member(i, steps[k])
    if not m then fail('missing') end
    i = m.vs
  end
  return i
end
local function splice(from, to, text) s = string.sub(s, 1, from - 1) .. text .. string.sub(s, to) end
local function run()
  local e = skip(ws(1))
  if ws(e) <= #s then bad(e) end
  local n = #steps
  if op == 'get' then
    local i = walk(n)
    return string.sub(s, i, skip(i) - 1)
  elseif op == 'incr' then
    local i = walk(n)
    local e = skip(i)
    local text = string.sub(s, i, e - 1)
    if kind_at(i) ~= 'a number' or not string.find(text, '^-?%d+$') then
      fail('type', 'an integer|' .. kind_at(i))
    end
    local by = tonumber(operand)
    if #text > 16 or math.abs(by) >= 2^53 then fail('range') end
    local v = tonumber(text) + by
    if math.abs(v) >= 2^53 then fail('range') end
    local new = string.format('%.0f', v)
    splice(i, e, new)
    return new
  elseif op == 'append' then
    local i = walk(n)
    if string.sub(s, i, i) ~= '[' then fail('type', 'an array|' .. kind_at(i)) end
    local len, j = 0, ws(i + 1)
    if string.sub(s, j, j) == ']' then
      splice(j, j, operand)
      return '1'
    end
    while true do
      len = len + 1
      j = ws(skip(j))
      if string.sub(s, j, j) == ']' then break end
      j = ws(j + 1)
    end
    splice(j, j, ',' .. operand)
    return tostring(len + 1)
  end
  local m, close = member(walk(n - 1), steps[n])
  if op == 'set' then
    if m then
      splice(m.vs, m.ve, operand)
    elseif steps[n].f then
      local empty = string.sub(s, ws(walk(n - 1) + 1), ws(walk(n - 1) + 1)) == '}'
      splice(close, close, (empty and '' or ',') .. cjson.encode(steps[n].f) .. ':' .. operand)
    else
      fail('missing')
    end
  elseif op == 'del' then
    if not m then fail('missing') end
    if m.prev then splice(m.prev, m.ve, '')
    elseif m.nxt then splice(m.start, m.nxt, '')
    else splice(m.start, m.ve, '') end
  end
  return ''
end
local function failure(e)
  if type(e) == 'table' then return {'err', e[1], e[2]} end
  return redis.error_reply(tostring(e))
end
local v = redis.call('GET', KEYS[1])
if v and (string.len(v) < 28 or string.sub(v, 1, 12) ~= head) then return {'err', 'notjson', ''} end
local doc = v and live(v, head, now) and string.sub(v, 29) or nil
if #steps == 0 and op == 'set' then
  if doc then redis.call('SET', KEYS[1], head .. now .. string.sub(v, 21, 28) .. operand, 'KEEPTTL')
  elseif px == '' then redis.call('SET', KEYS[1], fresh .. operand)
  else redis.call('SET', KEYS[1], fresh .. operand, 'PX', px) end
  return {'ok', ''}
end
if not doc then
  if op == 'get' then return {'none'} end
  return {'err', 'missing', ''}
end
s = doc
if #steps == 0 and op == 'del' then
  local ok, e = pcall(function() local e = skip(ws(1)) if ws(e) <= #s then bad(e) end end)
  if not ok then return failure(e) end
  redis.call('DEL', KEYS[1])
  return {'ok', ''}
end
local ok, out = pcall(run)
if not ok then return failure(out) end
if op ~= 'get' then
  redis.call('SET', KEYS[1], head .. now .. string.sub(v, 21, 28) .. s, 'KEEPTTL')
end
return {'ok', out}
"#
);

/// The kinds of value the script names, as the `&'static str`s of [`JsonProblem::Type`].
fn kind(text: &str) -> &'static str {
    match text {
        "an object" => "an object",
        "an array" => "an array",
        "a string" => "a string",
        "a boolean" => "a boolean",
        "null" => "null",
        "a number" => "a number",
        "an integer" => "an integer",
        _ => "something else",
    }
}

fn protocol(message: impl std::fmt::Display) -> BackendError {
    BackendError::new(
        super::KIND,
        crate::error::BackendErrorKind::Protocol,
        message,
    )
}

impl RedisBackend {
    fn json_script<K: Serialize>(
        &self,
        key: &K,
        path: &JsonPath,
        op: &JsonOp,
        ttl: Option<Duration>,
    ) -> Result<Cmd, BackendError> {
        let now = clock::now();
        let (sealed, px) = self.sealed::<K, Value>(&Value::Null, ttl, now)?;
        let (name, operand) = match op {
            JsonOp::Get => ("get", String::new()),
            JsonOp::Set(value) => ("set", value.to_string()),
            JsonOp::Incr(by) => ("incr", by.to_string()),
            JsonOp::Delete => ("del", String::new()),
            JsonOp::Append(value) => ("append", value.to_string()),
        };
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(SCRIPT)
            .arg(1)
            .arg(self.space.key(key)?)
            .arg(&now.as_nanos().to_le_bytes()[..])
            .arg(&self.head::<K, Value>()[..])
            .arg(name)
            .arg(operand)
            .arg(&sealed[..HEADER_LEN])
            .arg(px.map_or_else(String::new, |px| px.to_string()));
        for step in path.steps() {
            match step {
                Step::Field(name) => cmd.arg("f").arg(name),
                Step::Index(i) => cmd.arg("i").arg(*i),
            };
        }
        Ok(cmd)
    }
}

/// What the script's reply means for `op`.
fn answer(op: &JsonOp, reply: &[Vec<u8>]) -> Result<Result<JsonAnswer, JsonProblem>, BackendError> {
    let text = |i: usize| {
        reply
            .get(i)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    match text(0).as_str() {
        "none" => Ok(Ok(JsonAnswer::Value(None))),
        "ok" => {
            let out = text(1);
            let bad = |e: &dyn std::fmt::Display| {
                protocol(format_args!("the JSON script answered {out:?}: {e}"))
            };
            Ok(Ok(match op {
                JsonOp::Get => {
                    JsonAnswer::Value(Some(serde_json::from_str(&out).map_err(|e| bad(&e))?))
                }
                JsonOp::Incr(_) => JsonAnswer::Integer(out.parse().map_err(|e| bad(&e))?),
                JsonOp::Append(_) => JsonAnswer::Length(out.parse().map_err(|e| bad(&e))?),
                JsonOp::Set(_) | JsonOp::Delete => JsonAnswer::Done,
            }))
        }
        "err" => {
            let detail = text(2);
            Ok(Err(match text(1).as_str() {
                "missing" => JsonProblem::Missing,
                "type" => {
                    let (expected, found) = detail.split_once('|').unwrap_or(("", ""));
                    JsonProblem::Type {
                        expected: kind(expected),
                        found: kind(found),
                    }
                }
                "range" => JsonProblem::Type {
                    expected: "an integer within ±2^53 (a Redis script counts in doubles)",
                    found: "one beyond it",
                },
                "malformed" => JsonProblem::NotJson(
                    format!("the stored JSON does not parse ({detail})").into(),
                ),
                _ => JsonProblem::NotJson(
                    "the value under the key was written for another type, or not by memokit"
                        .into(),
                ),
            }))
        }
        other => Err(protocol(format_args!("the JSON script answered {other:?}"))),
    }
}

/// JSON documents atomically on the server, in one Lua script that edits the JSON text behind
/// the envelope (not RedisJSON, whose documents `GET` cannot read, and not `cjson`, which loses
/// empty arrays and digits).
impl<K: CacheKey + Serialize> JsonBackend<K> for RedisBackend {
    fn json(
        &self,
        key: K,
        path: &JsonPath,
        op: JsonOp,
        ttl: Option<Duration>,
    ) -> Result<Result<JsonAnswer, JsonProblem>, BackendError> {
        let codec = self.envelope().codec();
        if codec.id() != Json::ID {
            return Ok(Err(JsonProblem::NotJson(
                format!(
                    "the cache stores values with the {} codec; JSON documents need the json codec",
                    codec.name()
                )
                .into(),
            )));
        }
        let cmd = self.json_script(&key, path, &op, ttl)?;
        let reply: Vec<Vec<u8>> = self.run(&cmd)?;
        answer(&op, &reply)
    }
}
