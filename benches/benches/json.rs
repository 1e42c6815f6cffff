//! `json_incr` of one field of a small document (`{"hits": {"n": N}, "tags": [...], "name": ...}`)
//! against the non-atomic work it replaces, in the same run:
//!
//! * memory: `json_incr` (one `compute` under the shard's write lock, the document cloned and
//!   changed) against a `get` + change + `insert` of the same document;
//! * Redis (feature `redis`; a local server the bench starts from PATH, like the tests):
//!   `json_incr` (one script that validates and splices the JSON text) against a plain `INCR`
//!   round trip on the same connection pool, and against `get` + change + `insert`.
//!
//! `cargo bench -p memokit-bench --features json --bench json`, with `redis` too for the Redis
//! group.

#[cfg(feature = "redis")]
#[path = "../../tests/support/redis.rs"]
mod redis_server;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use memokit::{Backend, Cache, JsonBackend};
use serde_json::{Value, json};

fn document() -> Value {
    json!({
        "hits": {"n": 0},
        "tags": ["a", "b", "c"],
        "name": "a document of a few fields, like a session or a counter set"
    })
}

/// The increment done by hand: read, change, write back (loses updates under contention).
fn get_and_insert<B: Backend<String, Value>>(docs: &Cache<String, Value, B>, key: &String) {
    let mut doc = docs.get(key).expect("a read").expect("the document");
    let n = doc["hits"]["n"].as_i64().expect("an integer");
    doc["hits"]["n"] = json!(n + 1);
    docs.insert(key.clone(), doc).expect("a write");
}

fn group<B: JsonBackend<String>>(
    c: &mut Criterion,
    name: &str,
    docs: &Cache<String, Value, B>,
    extra: impl FnOnce(&mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>),
) {
    let key = "doc".to_string();
    docs.json_set(key.clone(), ".", document())
        .expect("a write");
    let mut group = c.benchmark_group(name);
    group.bench_function("json_incr", |b| {
        b.iter(|| black_box(docs.json_incr(key.clone(), ".hits.n", 1).expect("an incr")))
    });
    group.bench_function("get + insert", |b| b.iter(|| get_and_insert(docs, &key)));
    extra(&mut group);
    group.finish();
}

fn memory(c: &mut Criterion) {
    let docs: Cache<String, Value> = Cache::builder("bench-json").build().expect("a cache");
    group(c, "json_incr_memory", &docs, |_| {});
}

#[cfg(feature = "redis")]
fn redis(c: &mut Criterion) {
    use memokit::redis::cmd;
    use memokit::{RedisBackend, RedisOptions};

    let Some(server) = redis_server::RedisServer::start() else {
        return;
    };
    let docs: Cache<String, Value, RedisBackend> = Cache::builder("bench-json")
        .backend_options(RedisOptions::new().url(server.url()))
        .build()
        .expect("a Redis cache");
    let backend = docs.backend().expect("the backend").clone();
    group(c, "json_incr_redis", &docs, |group| {
        let incr = cmd("INCR").arg("bench-json-plain-counter").clone();
        group.bench_function("plain INCR round trip", |b| {
            b.iter(|| black_box(backend.query::<i64>(&incr).expect("an INCR")))
        });
    });
}

#[cfg(not(feature = "redis"))]
fn redis(_: &mut Criterion) {}

criterion_group!(benches, memory, redis);
criterion_main!(benches);
