//! The `tracing` bridge (feature `tracing`): spans around loads and events for every operation.
//!
//! [`install`] attaches a built-in handler under [`HANDLER_ID`]; until then memokit emits nothing
//! to `tracing` and the hit path stays one relaxed load. Once installed:
//!
//! | what | name | level | fields |
//! |---|---|---|---|
//! | span around each loader run | [`names::LOAD`] | INFO | `cache`, `backend`, `namespace`, `outcome` (recorded at the end) |
//! | span around each background refresh | [`names::REFRESH`] | INFO | same |
//! | hit | [`names::GET`] | TRACE | `cache`, `backend`, `namespace`, `result` |
//! | miss, stale hit | [`names::GET`] | DEBUG | same |
//! | insert, remove, clear | [`names::INSERT`], [`names::REMOVE`], [`names::CLEAR`] | TRACE | `cache`, `backend`, `namespace` (+ `removed`) |
//! | eviction, expiry | [`names::EVICT`], [`names::EXPIRE`] | TRACE | + `cause` |
//! | load, refresh finished | [`names::LOAD`], [`names::REFRESH`] | DEBUG | + `outcome`, `duration` |
//! | backend error | [`names::ERROR`] | WARN | + `kind`, `error` |
//!
//! The `namespace` field reads as [`Namespace`] displays: `global` outside any sandbox, `sb<id>` in
//! one.
//!
//! Every span and event has the target [`names::TRACING_TARGET`] (`memokit`), so
//! `RUST_LOG=memokit=debug` shows misses and loads. The load span is entered for the whole run of
//! the body (on every poll, for an async body), so whatever the body logs, and how long it takes,
//! appears under its cache's name.
//!
//! ```
//! memokit_core::telemetry::tracing::install();
//! assert!(memokit_core::telemetry::is_attached(memokit_core::telemetry::tracing::HANDLER_ID));
//! memokit_core::telemetry::tracing::uninstall();
//! ```

use tracing::Level;

use super::event::{Event, EventKind, GetResult, Source};
use super::handlers::{attach_with_load_span, detach};
use super::names;
use crate::context::Namespace;

/// The id the bridge's handler is attached under.
pub const HANDLER_ID: &str = "memokit.tracing";

/// Starts forwarding memokit's events to `tracing` (see the [module docs](self)). Installing
/// twice is harmless.
pub fn install() {
    // Already attached is the only error, and it means installed.
    let _ = attach_with_load_span(HANDLER_ID, forward, load_span);
}

/// Stops forwarding; whether the bridge was installed.
pub fn uninstall() -> bool {
    detach(HANDLER_ID)
}

/// The span a load (or refresh) runs in; the core asks for it only while the bridge is installed.
fn load_span(source: Source<'_>, namespace: Namespace, refresh: bool) -> tracing::Span {
    // A span's name is part of its static metadata: one call site per name.
    macro_rules! span {
        ($name:expr) => {
            tracing::info_span!(
                target: names::TRACING_TARGET,
                $name,
                cache = source.cache,
                backend = source.backend,
                namespace = %namespace,
                outcome = tracing::field::Empty,
            )
        };
    }
    if refresh {
        span!(names::REFRESH)
    } else {
        span!(names::LOAD)
    }
}

/// One `tracing` event with the fields every memokit event carries, plus `extra`.
macro_rules! forward_event {
    ($level:expr, $name:expr, $event:expr $(, $($extra:tt)+)?) => {
        tracing::event!(
            name: $name,
            target: names::TRACING_TARGET,
            $level,
            cache = $event.cache,
            backend = $event.backend,
            namespace = %$event.namespace
            $(, $($extra)+)?
        )
    };
}

fn forward(event: &Event<'_>) {
    match event.kind {
        EventKind::Get(GetResult::Hit) => {
            forward_event!(Level::TRACE, names::GET, event, result = "hit");
        }
        EventKind::Get(result) => {
            forward_event!(Level::DEBUG, names::GET, event, result = result.as_str());
        }
        EventKind::Insert => forward_event!(Level::TRACE, names::INSERT, event),
        EventKind::Remove { removed } => {
            forward_event!(Level::TRACE, names::REMOVE, event, removed);
        }
        EventKind::Clear => forward_event!(Level::TRACE, names::CLEAR, event),
        // The span is the start; an event would only repeat it.
        EventKind::LoadStart => {}
        EventKind::Load { outcome, duration } => forward_event!(
            Level::DEBUG,
            names::LOAD,
            event,
            outcome = outcome.as_str(),
            duration = ?duration
        ),
        EventKind::Refresh { outcome, duration } => forward_event!(
            Level::DEBUG,
            names::REFRESH,
            event,
            outcome = outcome.as_str(),
            duration = ?duration
        ),
        EventKind::Removal { cause } => {
            if event.name() == names::EXPIRE {
                forward_event!(Level::TRACE, names::EXPIRE, event, cause = cause.as_str());
            } else {
                forward_event!(Level::TRACE, names::EVICT, event, cause = cause.as_str());
            }
        }
        EventKind::Error { error } => forward_event!(
            Level::WARN,
            names::ERROR,
            event,
            kind = error.kind().as_str(),
            error = %error
        ),
    }
}
