//! A cache that cannot be built is never silent: a memoized function whose options fail at run
//! time, and a cache module whose `config` function fails, each emit one `error` event of kind
//! `config` and are listed by `caches()` with their error (the `tracing` and `metrics` bridges'
//! side is in telemetry_tracing.rs and telemetry_metrics.rs). Handlers are global and tests run
//! in parallel, so each test's handler keeps only its own cache's events.

use std::sync::{Arc, Mutex};

use memokit::telemetry::{self, EventKind, names};
use memokit::{BackendErrorKind, CacheError, ConfigError, Settings, cached, caches};

mod telemetry_support;
use telemetry_support::{UNBUILDABLE_MEMO, unbuildable};

/// One `error` event: its error's kind, setting and message.
type Seen = (BackendErrorKind, Option<&'static str>, String);

/// Every `error` event of cache `name`, while the guard lives.
struct Errors {
    id: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Errors {
    fn of(name: &'static str) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let id = format!("misconfigured-{name}");
        telemetry::attach(&id, move |event| {
            if let (true, EventKind::Error { error }) = (event.cache == name, event.kind) {
                assert_eq!(event.name(), names::ERROR);
                let seen = (error.kind(), error.setting(), error.to_string());
                log.lock().unwrap().push(seen);
            }
        })
        .unwrap();
        Self { id, seen }
    }

    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Errors {
    fn drop(&mut self) {
        telemetry::detach(&self.id);
    }
}

/// The error `caches()` lists for cache `name`, checking there is one entry for it.
fn listed_error(name: &str) -> Option<CacheError> {
    let mut listed: Vec<_> = caches().into_iter().filter(|c| c.name == name).collect();
    assert_eq!(listed.len(), 1, "{name} listed once");
    let info = listed.remove(0);
    assert_eq!(info.backend, "memory");
    info.error
}

#[test]
fn a_memoized_function_that_cannot_build_its_cache_says_so_once() {
    let errors = Errors::of("unbuildable");
    assert_eq!(unbuildable(2), 4);
    assert_eq!(unbuildable(2), 4); // runs the body again: nothing is cached
    assert_eq!(UNBUILDABLE_MEMO.stats().loads, 0);

    let seen = errors.take();
    assert_eq!(
        seen.len(),
        1,
        "one event for the cache, not one per call: {seen:?}"
    );
    let (kind, setting, message) = &seen[0];
    assert_eq!(
        (*kind, *setting),
        (BackendErrorKind::Config, Some("capacity"))
    );
    assert!(
        message.contains("cache `unbuildable`: invalid `capacity`: must be at least 1"),
        "{message}"
    );

    let error = listed_error("unbuildable").expect("the listing carries the error");
    assert_eq!(Some(&error), UNBUILDABLE_MEMO.cache().err());
    assert!(matches!(
        error,
        CacheError::Config {
            setting: "capacity",
            ..
        }
    ));
}

fn failing_config(_: &mut Settings<u32, String>) -> Result<(), ConfigError> {
    Err(ConfigError::new("url", "MIS_MODULE_URL is not set"))
}

#[derive(memokit::Cache)]
#[cache(name = "mis-module", key = u32, value = String, config = failing_config)]
struct Misconfigured;

#[test]
fn a_cache_module_whose_config_fails_says_so_once() {
    let errors = Errors::of("mis-module");
    for _ in 0..3 {
        let err = Misconfigured::get(&1).unwrap_err();
        assert!(
            matches!(err, CacheError::Config { setting: "url", .. }),
            "{err}"
        );
    }
    assert!(Misconfigured::insert(1, "one".into()).is_err());

    let seen = errors.take();
    assert_eq!(
        seen.len(),
        1,
        "one event for the module, not one per call: {seen:?}"
    );
    let (kind, setting, message) = &seen[0];
    assert_eq!((*kind, *setting), (BackendErrorKind::Config, Some("url")));
    assert!(message.contains("MIS_MODULE_URL is not set"), "{message}");

    let error = listed_error("mis-module").expect("the listing carries the error");
    assert_eq!(
        error.to_string(),
        "cache `mis-module`: invalid `url`: MIS_MODULE_URL is not set"
    );
}

#[test]
fn working_caches_are_listed_without_an_error() {
    #[cached(name = "mis-working")]
    fn tripled(x: u32) -> u32 {
        x * 3
    }
    assert_eq!(tripled(1), 3);
    assert_eq!(listed_error("mis-working"), None);
}
