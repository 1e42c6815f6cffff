//! JSON documents (ElixirCache's `json_get`, `json_set`, `json_incr`, `json_delete` and
//! `json_array_append`): the path syntax, the operations, what they do to a
//! [`serde_json::Value`], and [`JsonBackend`], the capability a backend needs for them.
//!
//! # Paths
//!
//! `.` is the whole document; `.field` a member of an object; `[index]` an element of an array
//! (from 0); they chain, as in `.users[0].name`. A field name is any text without `.`, `[` or
//! `]`. A path that does not parse is [`JsonProblem::Syntax`].
//!
//! # Operations
//!
//! | operation | at the path | result |
//! |---|---|---|
//! | get | any value | a copy of it |
//! | set | a member (created if its object exists), an existing element, or `.` (the document, created if absent) | |
//! | incr | an integer (`i64`, checked) | the new integer |
//! | delete | a member or an element (later elements shift down), or `.` (the key) | |
//! | array append | an array | its new length |
//!
//! Nothing at the path (or no document) is [`JsonProblem::Missing`]; a value of the wrong kind
//! on the way or at the end is [`JsonProblem::Type`]. A failed operation writes nothing.
//!
//! # Atomicity
//!
//! The default [`JsonBackend::json`] is one [`compute`](Backend::compute): under the shard's
//! write lock in memory, in one write transaction on disk. A remote store overrides it to run
//! on the server (Redis: one Lua script, see the `redis` module).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Backend, Compute};
use crate::bounds::CacheKey;
use crate::error::{BackendError, JsonProblem};

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name`: a member of an object.
    Field(String),
    /// `[n]`: an element of an array.
    Index(usize),
}

/// A parsed path into a JSON document; see the [module docs](self) for the syntax.
///
/// ```
/// use memokit_core::backend::json::{JsonPath, Step};
///
/// let path = JsonPath::parse(".users[0].name")?;
/// assert_eq!(
///     path.steps(),
///     [Step::Field("users".into()), Step::Index(0), Step::Field("name".into())]
/// );
/// assert!(JsonPath::parse(".").unwrap().steps().is_empty());
/// assert!(JsonPath::parse(".users[x]").is_err());
/// # Ok::<(), memokit_core::JsonProblem>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: Arc<str>,
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, JsonProblem> {
        let syntax = |why: String| JsonProblem::Syntax(why.into());
        if text == "." {
            return Ok(Self {
                text: text.into(),
                steps: Vec::new(),
            });
        }
        if text.is_empty() {
            return Err(syntax(
                "empty; write `.` for the whole document, or `.field`, `[index]`".into(),
            ));
        }
        let mut steps = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[', ']']).unwrap_or(after.len());
                if end == 0 {
                    return Err(syntax(format!(
                        "a field name is missing after the `.` at `{rest}`"
                    )));
                }
                steps.push(Step::Field(after[..end].to_owned()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after
                    .find(']')
                    .ok_or_else(|| syntax(format!("`[` without its `]` at `{rest}`")))?;
                let index = after[..end]
                    .parse::<usize>()
                    .ok()
                    .filter(|_| after[..end].bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        syntax(format!(
                            "`[{}]` is not an index: write a number from 0, like `[0]`",
                            &after[..end]
                        ))
                    })?;
                steps.push(Step::Index(index));
                rest = &after[end + 1..];
            } else {
                return Err(syntax(format!(
                    "expected `.field` or `[index]` at `{rest}`"
                )));
            }
        }
        Ok(Self {
            text: text.into(),
            steps,
        })
    }

    /// The steps from the document's root; none for `.`.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The path as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An operation on a JSON document; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub enum JsonOp {
    /// Read the value at the path.
    Get,
    /// Store a value at the path.
    Set(Value),
    /// Add to the integer at the path.
    Incr(i64),
    /// Remove the value at the path.
    Delete,
    /// Push a value onto the array at the path.
    Append(Value),
}

/// What a [`JsonOp`] answered.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonAnswer {
    /// A get's value (`None`: no document under the key).
    Value(Option<Value>),
    /// A set or a delete was done.
    Done,
    /// An increment's new integer.
    Integer(i64),
    /// An append's new array length.
    Length(usize),
}

/// What a value is, in errors.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn mismatch(expected: &'static str, found: &Value) -> JsonProblem {
    JsonProblem::Type {
        expected,
        found: kind(found),
    }
}

/// The value at `steps` below `value`.
fn at<'v>(value: &'v mut Value, steps: &[Step]) -> Result<&'v mut Value, JsonProblem> {
    steps
        .iter()
        .try_fold(value, |value, step| match (step, value) {
            (Step::Field(name), Value::Object(map)) => {
                map.get_mut(name).ok_or(JsonProblem::Missing)
            }
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i).ok_or(JsonProblem::Missing),
            (Step::Field(_), other) => Err(mismatch("an object", other)),
            (Step::Index(_), other) => Err(mismatch("an array", other)),
        })
}

/// Applies `op` at `path` to `doc` in place: the document's root is never replaced or removed
/// here (the callers handle `.`). On an error `doc` is unchanged.
pub(crate) fn apply(
    doc: &mut Value,
    path: &JsonPath,
    op: &JsonOp,
) -> Result<JsonAnswer, JsonProblem> {
    let steps = path.steps();
    match op {
        JsonOp::Get => Ok(JsonAnswer::Value(Some(at(doc, steps)?.clone()))),
        JsonOp::Incr(by) => {
            let target = at(doc, steps)?;
            let n = target
                .as_i64()
                .ok_or_else(|| mismatch("an integer", target))?;
            let sum = n.checked_add(*by).ok_or(JsonProblem::Type {
                expected: "an integer that stays within i64 after the increment",
                found: "one that overflows",
            })?;
            *target = Value::from(sum);
            Ok(JsonAnswer::Integer(sum))
        }
        JsonOp::Append(value) => match at(doc, steps)? {
            Value::Array(items) => {
                items.push(value.clone());
                Ok(JsonAnswer::Length(items.len()))
            }
            other => Err(mismatch("an array", other)),
        },
        JsonOp::Set(value) => {
            let Some((last, parent)) = steps.split_last() else {
                *doc = value.clone();
                return Ok(JsonAnswer::Done);
            };
            match (last, at(doc, parent)?) {
                (Step::Field(name), Value::Object(map)) => {
                    map.insert(name.clone(), value.clone());
                }
                (Step::Index(i), Value::Array(items)) => {
                    *items.get_mut(*i).ok_or(JsonProblem::Missing)? = value.clone();
                }
                (Step::Field(_), other) => return Err(mismatch("an object", other)),
                (Step::Index(_), other) => return Err(mismatch("an array", other)),
            }
            Ok(JsonAnswer::Done)
        }
        JsonOp::Delete => {
            let Some((last, parent)) = steps.split_last() else {
                return Ok(JsonAnswer::Done);
            };
            match (last, at(doc, parent)?) {
                (Step::Field(name), Value::Object(map)) => {
                    map.remove(name).ok_or(JsonProblem::Missing)?;
                }
                (Step::Index(i), Value::Array(items)) if *i < items.len() => {
                    items.remove(*i);
                }
                (Step::Index(_), Value::Array(_)) => return Err(JsonProblem::Missing),
                (Step::Field(_), other) => return Err(mismatch("an object", other)),
                (Step::Index(_), other) => return Err(mismatch("an array", other)),
            }
            Ok(JsonAnswer::Done)
        }
    }
}

/// What one JSON operation made of a document (`None`: there is none).
fn plan(
    doc: Option<&Value>,
    path: &JsonPath,
    op: &JsonOp,
) -> Result<(Compute<Value>, JsonAnswer), JsonProblem> {
    match (doc, op) {
        (_, JsonOp::Set(value)) if path.steps().is_empty() => {
            Ok((Compute::Put(value.clone()), JsonAnswer::Done))
        }
        (Some(_), JsonOp::Delete) if path.steps().is_empty() => {
            Ok((Compute::Remove, JsonAnswer::Done))
        }
        (None, _) => Err(JsonProblem::Missing),
        (Some(doc), op) => {
            let mut doc = doc.clone();
            let answer = apply(&mut doc, path, op)?;
            Ok((Compute::Put(doc), answer))
        }
    }
}

/// A backend that can run JSON document operations atomically. The default runs each one as a
/// [`compute`](Backend::compute); a backend whose `compute` is not atomic, or that can do better
/// on its server, overrides [`json`](Self::json).
pub trait JsonBackend<K: CacheKey>: Backend<K, Value> {
    /// Runs `op` at `path` on the document under `key`; a new document (a set of `.`) expires
    /// after `ttl`. The inner `Err` is a problem with the document or the path, with nothing
    /// written.
    fn json(
        &self,
        key: K,
        path: &JsonPath,
        op: JsonOp,
        ttl: Option<Duration>,
    ) -> Result<Result<JsonAnswer, JsonProblem>, BackendError> {
        if op == JsonOp::Get {
            let found = self.get(&key)?;
            return Ok(match found {
                None => Ok(JsonAnswer::Value(None)),
                Some(found) => {
                    let mut doc = found.value;
                    apply(&mut doc, path, &op)
                }
            });
        }
        let mut outcome = Err(JsonProblem::Missing);
        self.compute(key, ttl, |doc| match plan(doc, path, &op) {
            Ok((compute, answer)) => {
                outcome = Ok(answer);
                compute
            }
            Err(problem) => {
                outcome = Err(problem);
                Compute::Keep
            }
        })?;
        Ok(outcome)
    }
}
