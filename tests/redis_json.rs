//! JSON documents on a plain `redis-server` (no RedisJSON module): every operation and path form,
//! bad input that leaves the document as it was, 8 threads x 1,000 concurrent increments that
//! lose none, and what the script says of values it must not edit: another type's value, and
//! a document whose JSON does not parse.

#![cfg(all(feature = "redis", feature = "json"))]

#[path = "support/redis.rs"]
mod redis_server;

mod json_support;

use std::sync::Arc;
use std::time::Duration;

use memokit::redis::cmd;
use memokit::{Cache, CacheError, JsonProblem, RedisBackend, RedisOptions};
use redis_server::RedisServer;
use serde_json::json;

use json_support::Docs;

fn docs(server: &RedisServer, name: &str) -> Docs<RedisBackend> {
    Cache::builder(name)
        .backend_options(
            RedisOptions::new()
                .url(server.url())
                .timeout(Duration::from_secs(5)),
        )
        .build()
        .unwrap()
}

#[test]
fn every_operation_and_path_form_on_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let _sb = memokit::sandbox();
    json_support::every_operation_and_path_form(&docs(&server, "rjson-every"));
}

#[test]
fn bad_input_leaves_the_document_unchanged_on_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let _sb = memokit::sandbox();
    json_support::bad_input_leaves_the_document_unchanged(&docs(&server, "rjson-bad"));
}

#[test]
fn concurrent_increments_are_exact_on_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sb = memokit::sandbox();
    let docs = Arc::new(docs(&server, "rjson-incr"));
    json_support::concurrent_increments_are_exact(docs, &sb.handle());
}

#[test]
fn documents_follow_the_cache_ttl_on_memokits_clock() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sb = memokit::sandbox();
    let docs: Docs<RedisBackend> = Cache::builder("rjson-ttl")
        .ttl(Duration::from_secs(60))
        .backend_options(RedisOptions::new().url(server.url()))
        .build()
        .unwrap();
    let k = "doc".to_string();
    docs.json_set(k.clone(), ".", json!({"n": 1})).unwrap();
    sb.advance(Duration::from_secs(30));
    assert_eq!(docs.json_incr(k.clone(), ".n", 1).unwrap(), 2);
    sb.advance(Duration::from_secs(31));
    assert_eq!(
        docs.json_get(k.clone(), ".").unwrap(),
        None,
        "the update kept the deadline"
    );
    let err = docs.json_incr(k, ".n", 1).unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::Json {
                problem: JsonProblem::Missing,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_value_of_another_type_or_broken_json_is_not_a_document() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let _sb = memokit::sandbox();
    let name = "rjson-not-json";
    let docs = docs(&server, name);
    // Another cache's typed value under the same Redis key: the same name, another value type.
    let numbers: Cache<String, u64, RedisBackend> = Cache::builder(name)
        .backend_options(RedisOptions::new().url(server.url()))
        .build()
        .unwrap();
    numbers.insert("n".into(), 7).unwrap();
    for err in [
        docs.json_get("n".into(), ".").unwrap_err(),
        docs.json_set("n".into(), ".", json!(1)).unwrap_err(),
        docs.json_incr("n".into(), ".", 1).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                CacheError::Json {
                    problem: JsonProblem::NotJson(_),
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert_eq!(numbers.get("n").unwrap(), Some(7), "left as it was");

    // A document whose bytes after the envelope are not JSON.
    docs.json_set("broken".into(), ".", json!({"a": [1, 2]}))
        .unwrap();
    let backend = docs.backend().unwrap();
    let keys: Vec<Vec<u8>> = backend.query(&cmd("KEYS").arg("*broken*").clone()).unwrap();
    assert_eq!(keys.len(), 1);
    let bytes: Vec<u8> = backend.query(&cmd("GET").arg(&keys[0]).clone()).unwrap();
    let mut broken = bytes[..28].to_vec();
    broken.extend_from_slice(br#"{"a": [1, 2"#);
    let () = backend
        .query(&cmd("SET").arg(&keys[0]).arg(&broken).clone())
        .unwrap();
    for err in [
        docs.json_get("broken".into(), ".a").unwrap_err(),
        docs.json_array_append("broken".into(), ".a", 3)
            .unwrap_err(),
        docs.json_delete("broken".into(), ".").unwrap_err(),
    ] {
        let CacheError::Json {
            problem: JsonProblem::NotJson(why),
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(why.contains("does not parse"), "{why}");
    }
    let after: Vec<u8> = backend.query(&cmd("GET").arg(&keys[0]).clone()).unwrap();
    assert_eq!(after, broken, "left as it was");
}
