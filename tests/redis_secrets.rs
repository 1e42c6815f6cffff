//! No credential from a Redis URL is ever printed: not by `RedisOptions`'s `Debug`, not by the
//! error of a cache that cannot be built, not by the errors and telemetry events of one that
//! cannot reach or log in to its server, whatever the form of the URL.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use memokit::telemetry;
use memokit::{Cache, CacheError, RedisBackend, RedisOptions};
use redis_server::RedisServer;

/// URLs and the secrets in them (passwords and user names, whole and in pieces). Nothing listens
/// on port 1, and the sockets do not exist.
const FORMS: &[(&str, &[&str])] = &[
    ("redis://:pw-Quokka@127.0.0.1:1/0", &["pw-Quokka"]),
    (
        "redis://usr-Wombat:pw-Quokka@127.0.0.1:1",
        &["usr-Wombat", "pw-Quokka"],
    ),
    ("redis://usr-Wombat@127.0.0.1:1/2", &["usr-Wombat"]),
    (
        "rediss://usr-Wombat:pw-Quokka@127.0.0.1:1/2",
        &["usr-Wombat", "pw-Quokka"],
    ),
    (
        "redis://:pw%40Quokka@127.0.0.1:1",
        &["pw%40Quokka", "pw@Quokka"],
    ),
    (
        "redis+unix:///tmp/memokit-none.sock?db=0&pass=pw-Quokka",
        &["pw-Quokka"],
    ),
    (
        "redis+unix:///tmp/memokit-none.sock?db=1&user=usr-Wombat&pass=pw-Quokka",
        &["usr-Wombat", "pw-Quokka"],
    ),
    (
        "unix:///tmp/memokit-none.sock?pass=pw-Quokka",
        &["pw-Quokka"],
    ),
    ("redis://127.0.0.1:1/0?password=pw-Quokka", &["pw-Quokka"]),
    (
        "redis://:pw-Quokka@127.0.0.1:1,redis://:pw-Numbat@127.0.0.1:2, redis://:pw-Bilby@127.0.0.1:3",
        &["pw-Quokka", "pw-Numbat", "pw-Bilby"],
    ),
    // Unencoded `@` and `/` in a password: no piece of it may show.
    (
        "redis://usr-Wombat:pw@Quokka@127.0.0.1:1",
        &["usr-Wombat", "pw@Quokka", "Quokka"],
    ),
    (
        "redis://usr-Wombat:pw/Quokka@127.0.0.1:1",
        &["usr-Wombat", "pw/Quokka", "Quokka"],
    ),
    (
        "redis://usr-Wombat:pw@Qu/okka@127.0.0.1:1",
        &["usr-Wombat", "Qu", "okka"],
    ),
    ("redis://:pw,Quokka@127.0.0.1:1", &["pw,Quokka", "Quokka"]),
    // Malformed.
    (
        "redis://usr-Wombat:pw-Quokka@127.0.0.1:notaport",
        &["usr-Wombat", "pw-Quokka"],
    ),
    (
        "http://usr-Wombat:pw-Quokka@127.0.0.1:1",
        &["usr-Wombat", "pw-Quokka"],
    ),
    ("redis://:pw-Quokka@", &["pw-Quokka"]),
    ("redis://[pw-Quokka@127.0.0.1:1", &["pw-Quokka"]),
    ("pw-Quokka", &["pw-Quokka"]),
    ("redis:pw-Quokka", &["pw-Quokka"]),
];

/// Asserts that none of `secrets` is in `text`, the `what` of URL `url`.
fn hidden(what: &str, url: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "the {what} of a cache with URL {url:?} shows {secret:?}: {text}"
        );
    }
}

/// Every event of cache `name`, rendered with `Debug` and with its error's `Display`.
struct Events {
    name: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Events {
    fn of(name: &str) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, wanted) = (seen.clone(), name.to_owned());
        telemetry::attach(name, move |event| {
            if event.cache == wanted {
                let mut text = format!("{event:?}");
                if let telemetry::EventKind::Error { error } = event.kind {
                    text.push_str(&format!(" {error}"));
                }
                log.lock().unwrap().push(text);
            }
        })
        .unwrap();
        Self {
            name: name.into(),
            seen,
        }
    }

    fn all(&self) -> String {
        self.seen.lock().unwrap().join("\n")
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        telemetry::detach(&self.name);
    }
}

fn options(url: &str) -> RedisOptions {
    RedisOptions::new()
        .url(url)
        .timeout(Duration::from_millis(200))
        .retry_interval(Duration::ZERO)
}

#[tokio::test]
async fn no_form_of_url_prints_its_credentials() {
    for (n, (url, secrets)) in FORMS.iter().enumerate() {
        let options = options(url);
        hidden("RedisOptions Debug", url, &format!("{options:?}"), secrets);
        let name = format!("secrets-{n}");
        let events = Events::of(&name);
        match Cache::<u8, u8, RedisBackend>::builder(name.as_str())
            .backend_options(options)
            .build()
        {
            Err(e) => {
                assert!(matches!(e, CacheError::Config { .. }), "{url}: {e:?}");
                hidden("build error (Display)", url, &e.to_string(), secrets);
                hidden("build error (Debug)", url, &format!("{e:?}"), secrets);
            }
            Ok(cache) => {
                hidden("cache Debug", url, &format!("{cache:?}"), secrets);
                let errors = [
                    cache.get(&1).unwrap_err(),
                    cache.insert(1, 1).unwrap_err(),
                    cache.get_async(&1).await.unwrap_err(),
                ];
                for e in errors {
                    hidden("error (Display)", url, &e.to_string(), secrets);
                    hidden("error (Debug)", url, &format!("{e:?}"), secrets);
                }
                assert!(!events.all().is_empty(), "{url}: no error events");
            }
        }
        hidden("events", url, &events.all(), secrets);
    }
}

#[tokio::test]
async fn a_password_logs_in_and_a_wrong_one_is_an_error_that_hides_it() {
    let Some(server) = RedisServer::start_with(&["--requirepass", "pw-Quokka"]) else {
        return;
    };
    let port = server.port();

    // The right password, with a database index: both setup steps work, sync and async.
    let url = format!("redis://:pw-Quokka@127.0.0.1:{port}/3");
    let good: Cache<u8, u8, RedisBackend> = Cache::builder("secrets-good")
        .backend_options(options(&url).timeout(Duration::from_secs(2)))
        .build()
        .unwrap();
    good.insert(1, 10).unwrap();
    assert_eq!(good.get(&1).unwrap(), Some(10));
    assert_eq!(good.get_async(&1).await.unwrap(), Some(10));
    good.insert_async(2, 20).await.unwrap();
    assert_eq!(good.get(&2).unwrap(), Some(20));
    // Database 0 of the same server does not have them.
    let url = format!("redis://:pw-Quokka@127.0.0.1:{port}/0");
    let db0: Cache<u8, u8, RedisBackend> = Cache::builder("secrets-good")
        .backend_options(options(&url).timeout(Duration::from_secs(2)))
        .build()
        .unwrap();
    assert_eq!(db0.get(&1).unwrap(), None);

    let wrong_urls = [
        format!("redis://:pw-Numbat@127.0.0.1:{port}"),
        format!("redis://usr-Wombat:pw-Numbat@127.0.0.1:{port}/1"),
        "redis+unix:///tmp/memokit-none.sock?pass=pw-Numbat".to_string(),
    ];
    for (n, url) in wrong_urls.iter().enumerate() {
        let secrets = ["pw-Numbat", "usr-Wombat"];
        let name = format!("secrets-wrong-{n}");
        let events = Events::of(&name);
        let wrong: Cache<u8, u8, RedisBackend> = Cache::builder(name.as_str())
            .backend_options(options(url).timeout(Duration::from_secs(2)))
            .build()
            .unwrap();
        let errors = [
            wrong.get(&1).unwrap_err(),
            wrong.get_async(&1).await.unwrap_err(),
        ];
        for e in errors {
            assert!(matches!(e, CacheError::Backend { .. }), "{e:?}");
            hidden("error (Display)", url, &e.to_string(), &secrets);
            hidden("error (Debug)", url, &format!("{e:?}"), &secrets);
        }
        let seen = events.all();
        assert!(seen.contains("Error"), "no error events: {seen}");
        hidden("events", url, &seen, &secrets);
    }
}
