//! The JSON document checks every backend must pass, run by `tests/json.rs` (memory, disk) and
//! `tests/redis_json.rs` (a plain `redis-server`).

use std::sync::Arc;

use memokit::{Cache, CacheError, JsonBackend, JsonProblem};
use serde_json::{Value, json};

pub type Docs<B> = Cache<String, Value, B>;

fn key(name: &str) -> String {
    format!("doc:{name}")
}

fn problem(err: CacheError) -> (String, String, JsonProblem) {
    match err {
        CacheError::Json {
            key, path, problem, ..
        } => (key.to_string(), path.to_string(), problem),
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

fn users() -> Value {
    json!({
        "users": [
            {"name": "ada", "visits": 1, "tags": []},
            {"name": "bob", "visits": 5, "tags": ["admin"]}
        ],
        "total": 6,
        "big": 9007199254740000i64,
        "ratio": 0.125,
        "meta": {}
    })
}

/// Every operation on every path form.
pub fn every_operation_and_path_form<B: JsonBackend<String>>(docs: &Docs<B>) {
    let k = key("every");
    assert_eq!(docs.json_get(k.clone(), ".").unwrap(), None);
    docs.json_set(k.clone(), ".", users()).unwrap();
    assert_eq!(docs.json_get(k.clone(), ".").unwrap(), Some(users()));
    assert_eq!(
        docs.get(&k).unwrap(),
        Some(users()),
        "a document is a plain value too"
    );
    assert_eq!(docs.json_get(k.clone(), ".total").unwrap(), Some(json!(6)));
    assert_eq!(
        docs.json_get(k.clone(), ".users[1]").unwrap().unwrap()["name"],
        "bob"
    );
    assert_eq!(
        docs.json_get(k.clone(), ".users[0].name").unwrap(),
        Some(json!("ada"))
    );
    assert_eq!(
        docs.json_get(k.clone(), ".users[1].tags[0]").unwrap(),
        Some(json!("admin"))
    );

    assert_eq!(docs.json_incr(k.clone(), ".total", 4).unwrap(), 10);
    assert_eq!(
        docs.json_incr(k.clone(), ".users[1].visits", -2).unwrap(),
        3
    );

    docs.json_set(k.clone(), ".users[0].name", "grace").unwrap();
    docs.json_set(k.clone(), ".users[0].email", "g@example.com")
        .unwrap();
    docs.json_set(k.clone(), ".meta.owner", json!({"id": 1}))
        .unwrap();
    docs.json_set(k.clone(), ".users[1]", json!({"name": "carol"}))
        .unwrap();

    assert_eq!(
        docs.json_array_append(k.clone(), ".users[0].tags", "new")
            .unwrap(),
        1
    );
    assert_eq!(
        docs.json_array_append(k.clone(), ".users[0].tags", json!([1]))
            .unwrap(),
        2
    );
    assert_eq!(
        docs.json_array_append(k.clone(), ".users", json!({"name": "dan"}))
            .unwrap(),
        3
    );

    docs.json_delete(k.clone(), ".ratio").unwrap();
    docs.json_delete(k.clone(), ".users[1]").unwrap();
    docs.json_delete(k.clone(), ".users[0].visits").unwrap();
    let expected = json!({
        "users": [
            {"name": "grace", "email": "g@example.com", "tags": ["new", [1]]},
            {"name": "dan"}
        ],
        "total": 10,
        "big": 9007199254740000i64,
        "meta": {"owner": {"id": 1}}
    });
    assert_eq!(
        docs.json_get(k.clone(), ".").unwrap(),
        Some(expected.clone())
    );
    assert_eq!(docs.get(&k).unwrap(), Some(expected));

    // Member names that need escaping, and a whole-document replace.
    docs.json_set(k.clone(), ".", json!({"a \"q\"": {"é": [true, null]}}))
        .unwrap();
    assert_eq!(
        docs.json_get(k.clone(), ".a \"q\".é[0]").unwrap(),
        Some(json!(true))
    );
    docs.json_set(k.clone(), ".a \"q\".n", 1).unwrap();
    assert_eq!(
        docs.json_get(k.clone(), ".").unwrap(),
        Some(json!({"a \"q\"": {"é": [true, null], "n": 1}}))
    );
    docs.json_delete(k.clone(), ".").unwrap();
    assert_eq!(docs.json_get(k.clone(), ".").unwrap(), None);
    assert_eq!(docs.get(&k).unwrap(), None);
    // A document that is a bare array or number.
    docs.json_set(k.clone(), ".", json!([])).unwrap();
    assert_eq!(docs.json_array_append(k.clone(), ".", 7).unwrap(), 1);
    assert_eq!(docs.json_get(k.clone(), ".").unwrap(), Some(json!([7])));
    docs.json_set(k.clone(), ".", 41).unwrap();
    assert_eq!(docs.json_incr(k.clone(), ".", 1).unwrap(), 42);
}

/// Each bad input is an error naming the key and the path, and leaves the document as it was.
pub fn bad_input_leaves_the_document_unchanged<B: JsonBackend<String>>(docs: &Docs<B>) {
    let k = key("bad");
    docs.json_set(k.clone(), ".", users()).unwrap();
    let unchanged = |what: &str| {
        assert_eq!(docs.get(&k).unwrap(), Some(users()), "after {what}");
    };

    let (named, path, p) = problem(docs.json_get(k.clone(), ".users[2]").unwrap_err());
    assert_eq!(
        (named.as_str(), path.as_str(), &p),
        ("\"doc:bad\"", ".users[2]", &JsonProblem::Missing)
    );
    for (path, op) in [
        (".nobody", "set under a missing parent"),
        (".users[9]", "set of a missing element"),
    ] {
        let target = if op.starts_with("set under") {
            ".nobody.name"
        } else {
            path
        };
        let (_, at, p) = problem(docs.json_set(k.clone(), target, 1).unwrap_err());
        assert_eq!((at.as_str(), p), (target, JsonProblem::Missing), "{op}");
        unchanged(op);
    }
    let (_, _, p) = problem(docs.json_delete(k.clone(), ".users[0].age").unwrap_err());
    assert_eq!(p, JsonProblem::Missing);
    unchanged("a delete of a missing member");
    let (_, _, p) = problem(docs.json_incr(k.clone(), ".missing", 1).unwrap_err());
    assert_eq!(p, JsonProblem::Missing);
    unchanged("an incr of a missing member");

    let err = docs.json_incr(k.clone(), ".users[0].name", 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cache `{}`: key \"doc:bad\", JSON path `.users[0].name`: expected an integer, found a string",
            docs.name()
        )
    );
    unchanged("an incr on a string");
    let type_error = |expected, found| JsonProblem::Type { expected, found };
    for (err, expected) in [
        (
            docs.json_incr(k.clone(), ".ratio", 1).unwrap_err(),
            type_error("an integer", "a number"),
        ),
        (
            docs.json_array_append(k.clone(), ".total", 1).unwrap_err(),
            type_error("an array", "a number"),
        ),
        (
            docs.json_get(k.clone(), ".total.x").unwrap_err(),
            type_error("an object", "a number"),
        ),
        (
            docs.json_set(k.clone(), ".users.x", 1).unwrap_err(),
            type_error("an object", "an array"),
        ),
        (
            docs.json_delete(k.clone(), ".meta[0]").unwrap_err(),
            type_error("an array", "an object"),
        ),
    ] {
        assert_eq!(problem(err).2, expected);
    }
    unchanged("type mismatches");

    for path in [
        "",
        "users",
        ".users[",
        ".users[-1]",
        ".users[x]",
        "..a",
        ".a]",
    ] {
        let (_, at, p) = problem(docs.json_set(k.clone(), path, 1).unwrap_err());
        assert_eq!(at, path);
        assert!(matches!(p, JsonProblem::Syntax(_)), "{path:?}: {p:?}");
    }
    unchanged("malformed paths");

    let other = key("absent");
    let (_, _, p) = problem(docs.json_incr(other.clone(), ".n", 1).unwrap_err());
    assert_eq!(p, JsonProblem::Missing);
    assert_eq!(
        docs.get(&other).unwrap(),
        None,
        "a failed op makes no document"
    );
}

/// 8 threads x 1,000 increments of one integer: none lost.
pub fn concurrent_increments_are_exact<B: JsonBackend<String>>(
    docs: Arc<Docs<B>>,
    sandbox: &memokit::SandboxHandle,
) {
    let k = key("counter");
    docs.json_set(k.clone(), ".", json!({"hits": {"n": 0}, "other": [1, 2]}))
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            let (docs, k, sandbox) = (docs.clone(), k.clone(), sandbox.clone());
            s.spawn(move || {
                let _in = sandbox.enter();
                for _ in 0..1_000 {
                    docs.json_incr(k.clone(), ".hits.n", 1).unwrap();
                }
            });
        }
    });
    assert_eq!(
        docs.json_get(k, ".").unwrap(),
        Some(json!({"hits": {"n": 8_000}, "other": [1, 2]}))
    );
}
