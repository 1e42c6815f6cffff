//! JSON documents in a cache of [`serde_json::Value`] (ElixirCache's `json_*` functions), on
//! every backend that implements [`JsonBackend`]: memory and disk through their atomic
//! `compute`, Redis in one script on the server. Paths, operations and atomicity are in
//! [`backend::json`](crate::backend::json).

use std::fmt::Debug;
use std::sync::Arc;

use serde_json::Value;

use super::handle::Cache;
use crate::backend::json::{JsonAnswer, JsonBackend, JsonOp, JsonPath};
use crate::bounds::CacheKey;
use crate::error::{BackendError, BackendErrorKind, CacheError};

impl<K: CacheKey + Debug, B: JsonBackend<K>> Cache<K, Value, B> {
    /// The value at `path` in the document under `key`; `None` if there is no document.
    ///
    /// ```
    /// use memokit_core::Cache;
    /// use serde_json::json;
    ///
    /// let docs: Cache<u32, serde_json::Value> = Cache::builder("json-get-doc").build()?;
    /// docs.json_set(1, ".", json!({"users": [{"name": "ada", "visits": 1}]}))?;
    /// assert_eq!(docs.json_get(1, ".users[0].name")?, Some(json!("ada")));
    /// assert_eq!(docs.json_incr(1, ".users[0].visits", 2)?, 3);
    /// assert_eq!(docs.json_array_append(1, ".users", json!({"name": "bob"}))?, 2);
    /// docs.json_set(1, ".users[1].visits", 1)?;
    /// docs.json_delete(1, ".users[0]")?;
    /// assert_eq!(docs.json_get(1, ".")?, Some(json!({"users": [{"name": "bob", "visits": 1}]})));
    /// assert!(docs.json_get(1, ".users[0].age").is_err()); // nothing there
    /// assert_eq!(docs.json_get(2, ".")?, None); // no document
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn json_get(&self, key: K, path: &str) -> Result<Option<Value>, CacheError> {
        self.json(key, path, JsonOp::Get, |answer| match answer {
            JsonAnswer::Value(value) => Ok(value),
            other => Err(other),
        })
    }

    /// Stores `value` at `path`: a member of an existing object (added or replaced), an
    /// existing array element, or with `.` the whole document (made if there is none, with the
    /// cache's TTL; an existing document keeps its deadline).
    pub fn json_set(&self, key: K, path: &str, value: impl Into<Value>) -> Result<(), CacheError> {
        self.json(key, path, JsonOp::Set(value.into()), done)
    }

    /// Adds `by` to the integer at `path`, atomically; the new integer. Concurrent increments
    /// never lose one.
    pub fn json_incr(&self, key: K, path: &str, by: i64) -> Result<i64, CacheError> {
        self.json(key, path, JsonOp::Incr(by), |answer| match answer {
            JsonAnswer::Integer(n) => Ok(n),
            other => Err(other),
        })
    }

    /// Removes the member or element at `path` (later elements shift down); with `.`, the whole
    /// document.
    pub fn json_delete(&self, key: K, path: &str) -> Result<(), CacheError> {
        self.json(key, path, JsonOp::Delete, done)
    }

    /// Pushes `value` onto the array at `path`; the array's new length.
    pub fn json_array_append(
        &self,
        key: K,
        path: &str,
        value: impl Into<Value>,
    ) -> Result<usize, CacheError> {
        self.json(
            key,
            path,
            JsonOp::Append(value.into()),
            |answer| match answer {
                JsonAnswer::Length(n) => Ok(n),
                other => Err(other),
            },
        )
    }

    /// Runs one operation and `pick`s its answer, counting a write as an insert. A problem with
    /// the document or the path names the key and the path; an answer `pick` gives back (not
    /// the one the operation has) is the backend's protocol error.
    fn json<T>(
        &self,
        key: K,
        path: &str,
        op: JsonOp,
        pick: fn(JsonAnswer) -> Result<T, JsonAnswer>,
    ) -> Result<T, CacheError> {
        let key_text: Arc<str> = format!("{key:?}").into();
        let named = |problem| CacheError::Json {
            cache: self.inner.config.name.clone(),
            key: key_text.clone(),
            path: path.into(),
            problem,
        };
        let parsed = JsonPath::parse(path).map_err(named)?;
        let writes = op != JsonOp::Get;
        let scope = self.scope()?;
        let answer = scope.backend.json(key, &parsed, op, self.inner.config.ttl);
        let answer = self.answered(&scope, answer)?.map_err(named)?;
        let value = pick(answer).map_err(|other| {
            let error = BackendError::new(
                B::KIND,
                BackendErrorKind::Protocol,
                format_args!("answered a JSON operation with {other:?}"),
            );
            self.backend_error(&scope, error)
        })?;
        if writes {
            self.stored(&scope, Ok(()))?;
        }
        Ok(value)
    }
}

fn done(answer: JsonAnswer) -> Result<(), JsonAnswer> {
    match answer {
        JsonAnswer::Done => Ok(()),
        other => Err(other),
    }
}
