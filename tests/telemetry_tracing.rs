//! The `tracing` bridge: loads run inside a span named after the load, and every event reaches
//! `tracing` under the name and level the docs list. A small subscriber records what it sees; it
//! is installed per thread (`with_default`), so parallel tests do not see each other.
#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use memokit::Cache;
use memokit::telemetry::{self, names};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Metadata, Subscriber};

mod telemetry_support;
use telemetry_support::{DOWN_MESSAGE, Down, unbuildable};

type Fields = BTreeMap<String, String>;

#[derive(Debug, Clone)]
struct SpanSeen {
    name: &'static str,
    target: String,
    level: Level,
    fields: Fields,
}

#[derive(Debug, Clone)]
struct EventSeen {
    name: &'static str,
    target: String,
    level: Level,
    fields: Fields,
    /// The span the event happened in, if any.
    parent: Option<u64>,
}

#[derive(Default)]
struct Seen {
    spans: BTreeMap<u64, SpanSeen>,
    events: Vec<EventSeen>,
    stack: Vec<u64>,
}

#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Seen>>,
    next: Arc<AtomicU64>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        let meta = attrs.metadata();
        let span = SpanSeen {
            name: meta.name(),
            target: meta.target().to_owned(),
            level: *meta.level(),
            fields,
        };
        self.seen.lock().unwrap().spans.insert(id, span);
        Id::from_u64(id)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut seen = self.seen.lock().unwrap();
        if let Some(span) = seen.spans.get_mut(&id.into_u64()) {
            values.record(&mut Collect(&mut span.fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        let meta = event.metadata();
        let mut seen = self.seen.lock().unwrap();
        let parent = seen.stack.last().copied();
        seen.events.push(EventSeen {
            name: meta.name(),
            target: meta.target().to_owned(),
            level: *meta.level(),
            fields,
            parent,
        });
    }
    fn enter(&self, id: &Id) {
        self.seen.lock().unwrap().stack.push(id.into_u64());
    }
    fn exit(&self, _: &Id) {
        self.seen.lock().unwrap().stack.pop();
    }
}

impl Recorder {
    /// Runs `f` with this recorder as the thread's subscriber and the bridge installed.
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        telemetry::tracing::install();
        tracing::subscriber::with_default(self.clone(), f)
    }

    fn events_of(&self, cache: &str) -> Vec<EventSeen> {
        let seen = self.seen.lock().unwrap();
        let events = seen.events.iter();
        events
            .filter(|e| e.fields.get("cache").map(String::as_str) == Some(cache))
            .cloned()
            .collect()
    }

    fn spans_of(&self, cache: &str) -> Vec<(u64, SpanSeen)> {
        let seen = self.seen.lock().unwrap();
        let spans = seen.spans.iter();
        spans
            .filter(|(_, s)| s.fields.get("cache").map(String::as_str) == Some(cache))
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    }
}

fn summary(events: &[EventSeen]) -> Vec<(&'static str, Level)> {
    events.iter().map(|e| (e.name, e.level)).collect()
}

#[test]
fn a_load_runs_inside_a_span_named_for_its_cache() {
    let recorder = Recorder::default();
    let cache: Cache<u32, u32> = Cache::builder("trc-load").build().unwrap();
    recorder.run(|| {
        cache
            .get_or_insert_with(1, || {
                tracing::info!(inside = true, "computing");
                10
            })
            .unwrap();
        cache.get(&1).unwrap();
    });
    let spans = recorder.spans_of("trc-load");
    assert_eq!(spans.len(), 1, "{spans:?}");
    let (span_id, span) = &spans[0];
    assert_eq!(
        (span.name, span.target.as_str(), span.level),
        (names::LOAD, names::TRACING_TARGET, Level::INFO)
    );
    assert_eq!(span.fields["backend"], "memory");
    assert_eq!(span.fields["namespace"], "global");
    assert_eq!(span.fields["outcome"], "ok");

    let seen = recorder.seen.lock().unwrap();
    let body = seen
        .events
        .iter()
        .find(|e| e.fields.contains_key("inside"))
        .expect("the body's event");
    assert_eq!(body.parent, Some(*span_id));
    drop(seen);

    let events = recorder.events_of("trc-load");
    assert!(events.iter().all(|e| e.target == names::TRACING_TARGET));
    assert_eq!(
        summary(&events),
        [
            (names::GET, Level::DEBUG),
            (names::INSERT, Level::TRACE),
            (names::LOAD, Level::DEBUG),
            (names::GET, Level::TRACE),
        ]
    );
    assert_eq!(events[0].fields["result"], "miss");
    assert_eq!(events[2].fields["outcome"], "ok");
    assert!(events[2].fields.contains_key("duration"));
    assert_eq!(events[3].fields["result"], "hit");
    assert!(events.iter().all(|e| e.fields["namespace"] == "global"));
}

#[test]
fn a_sandbox_is_named_as_its_namespace_displays() {
    let recorder = Recorder::default();
    let cache: Cache<u32, u32> = Cache::builder("trc-sandbox").build().unwrap();
    let sb = memokit::sandbox();
    recorder.run(|| cache.insert(1, 1).unwrap());
    let events = recorder.events_of("trc-sandbox");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].fields["namespace"], sb.namespace().to_string());
    assert!(events[0].fields["namespace"].starts_with("sb"));
}

#[tokio::test]
async fn an_async_body_is_polled_inside_the_span() {
    let recorder = Recorder::default();
    let cache: Cache<u32, u32> = Cache::builder("trc-async").build().unwrap();
    telemetry::tracing::install();
    let _default = tracing::subscriber::set_default(recorder.clone());
    let body = async {
        tracing::info!(inside_async = true, "before yield");
        tokio::task::yield_now().await;
        tracing::info!(inside_async = true, "after yield");
        Ok::<u32, String>(5)
    };
    let v = cache.try_get_or_insert_with_async(1, body).await;
    assert_eq!(v.unwrap(), 5);
    let spans = recorder.spans_of("trc-async");
    assert_eq!(spans.len(), 1);
    let seen = recorder.seen.lock().unwrap();
    let inside: Vec<_> = seen
        .events
        .iter()
        .filter(|e| e.fields.contains_key("inside_async"))
        .map(|e| e.parent)
        .collect();
    assert_eq!(inside, [Some(spans[0].0), Some(spans[0].0)]);
}

#[test]
fn removals_go_out_at_trace_with_their_cause() {
    let recorder = Recorder::default();
    let cache: Cache<u32, u32> = Cache::builder("trc-evict").capacity(1).build().unwrap();
    recorder.run(|| {
        cache.insert(1, 1).unwrap();
        cache.insert(2, 2).unwrap();
        cache.remove(&2).unwrap();
        cache.clear().unwrap();
    });
    let events = recorder.events_of("trc-evict");
    assert_eq!(
        summary(&events),
        [
            (names::INSERT, Level::TRACE),
            (names::EVICT, Level::TRACE),
            (names::INSERT, Level::TRACE),
            (names::EVICT, Level::TRACE),
            (names::REMOVE, Level::TRACE),
            (names::CLEAR, Level::TRACE),
        ]
    );
    assert_eq!(events[1].fields["cause"], "size");
    assert_eq!(events[3].fields["cause"], "explicit");
    assert_eq!(events[4].fields["removed"], "true");
}

#[test]
fn backend_errors_are_warnings() {
    let recorder = Recorder::default();
    let cache: Cache<u32, u32, Down> = Cache::builder("trc-error").build().unwrap();
    recorder.run(|| assert!(cache.get(&1).is_err()));
    let events = recorder.events_of("trc-error");
    assert_eq!(summary(&events), [(names::ERROR, Level::WARN)]);
    assert_eq!(events[0].fields["kind"], "unavailable");
    assert_eq!(events[0].fields["backend"], "down");
    assert_eq!(events[0].fields["error"], DOWN_MESSAGE);
}

#[test]
fn a_memoized_function_whose_cache_cannot_be_built_is_one_warning() {
    let recorder = Recorder::default();
    recorder.run(|| assert_eq!(unbuildable(1) + unbuildable(1), 4));
    let events = recorder.events_of("unbuildable");
    assert_eq!(summary(&events), [(names::ERROR, Level::WARN)]);
    assert_eq!(events[0].fields["kind"], "config");
    assert!(
        events[0].fields["error"]
            .ends_with("cache `unbuildable`: invalid `capacity`: must be at least 1"),
        "{:?}",
        events[0].fields
    );
}

#[test]
fn a_panicking_handler_is_reported_through_tracing() {
    let recorder = Recorder::default();
    let cache: Cache<u32, u32> = Cache::builder("trc-bad-handler").build().unwrap();
    telemetry::attach("trc-bad-handler", |event| {
        if event.cache == "trc-bad-handler" {
            panic!("handler bug");
        }
    })
    .unwrap();
    recorder.run(|| cache.insert(1, 1).unwrap());
    assert!(!telemetry::is_attached("trc-bad-handler"));
    let seen = recorder.seen.lock().unwrap();
    let report = seen
        .events
        .iter()
        .find(|e| e.fields.get("handler").map(String::as_str) == Some("trc-bad-handler"))
        .expect("a report of the panic");
    assert_eq!(report.level, Level::ERROR);
    assert!(report.fields["message"].contains("handler bug"));
}
