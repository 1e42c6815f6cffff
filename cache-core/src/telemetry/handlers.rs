//! The global table of attached handlers and the dispatch of one event to them.
//!
//! A handler may ask for load spans as it is attached ([`attach_with_load_span`], which the
//! `tracing` bridge does): while such a handler is attached, loads run inside the span its hook
//! makes. So the table needs only the hook, never the bridge.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
#[cfg(feature = "tracing")]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;

#[cfg(feature = "tracing")]
use super::event::Source;
use super::event::{Event, EventKind};
#[cfg(feature = "tracing")]
use crate::context::Namespace;

/// One handler in the table, with the id it was attached under.
struct AttachedHandler {
    id: Box<str>,
    handler: Box<dyn Fn(&Event<'_>) + Send + Sync>,
    /// Whether it receives [`EventKind::Get`] events (every lookup); a bridge that counts
    /// lookups from the caches' own counters does not, which keeps it off the hit path.
    lookups: bool,
    /// Whether loads run inside a span while this handler is attached.
    #[cfg(feature = "tracing")]
    wants_load_spans: bool,
}

type HandlerTable = Arc<[Arc<AttachedHandler>]>;

/// The attached handlers, replaced whole (copy on write) by attach and detach.
static HANDLERS: LazyLock<RwLock<HandlerTable>> = LazyLock::new(|| RwLock::new(Arc::new([])));

/// Bumped after every change of [`HANDLERS`], so threads know when their copy is out of date.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Whether any handler is attached: the one relaxed load every operation pays.
static ANY_ATTACHED: AtomicBool = AtomicBool::new(false);

/// Whether any attached handler receives lookups: the one relaxed load every lookup pays.
static ANY_LOOKUPS: AtomicBool = AtomicBool::new(false);

/// Makes the `tracing` span that a load (or, with `refresh`, a background refresh) of one of
/// `source`'s keys runs in.
#[cfg(feature = "tracing")]
pub(crate) type LoadSpan =
    fn(source: Source<'_>, namespace: Namespace, refresh: bool) -> tracing::Span;

/// The hook given to [`attach_with_load_span`]: the first one given, as there is one bridge.
#[cfg(feature = "tracing")]
static LOAD_SPAN: OnceLock<LoadSpan> = OnceLock::new();

/// Whether a handler that wants load spans is attached.
#[cfg(feature = "tracing")]
static LOAD_SPANS: AtomicBool = AtomicBool::new(false);

/// A thread's copy of the table. Dispatch reads it without touching any shared cache line (one
/// atomic load of [`GENERATION`]), so threads emitting at once do not contend on a lock or a
/// reference count; handlers run outside the global lock, so they may attach and detach.
struct ThreadTable {
    generation: u64,
    table: Option<HandlerTable>,
}

thread_local! {
    /// Borrowed while this thread runs handlers: an event a handler causes (it reads a cache)
    /// finds it borrowed and is dropped, so a handler cannot recurse into itself forever.
    static THREAD_TABLE: RefCell<ThreadTable> = const {
        RefCell::new(ThreadTable { generation: u64::MAX, table: None })
    };
}

/// Whether any handler is attached. This is the only cost of telemetry when nothing listens.
#[inline(always)]
pub(crate) fn active() -> bool {
    ANY_ATTACHED.load(Ordering::Relaxed)
}

/// Whether any attached handler receives [`EventKind::Get`] events.
#[inline(always)]
pub(crate) fn observes_lookups() -> bool {
    ANY_LOOKUPS.load(Ordering::Relaxed)
}

/// The span a load (or refresh) runs in: the [`LoadSpan`] hook's while a handler that wants load
/// spans is attached, else a disabled span.
#[cfg(feature = "tracing")]
pub(crate) fn load_span(source: Source<'_>, namespace: Namespace, refresh: bool) -> tracing::Span {
    match LOAD_SPAN.get() {
        Some(make) if LOAD_SPANS.load(Ordering::Relaxed) => make(source, namespace, refresh),
        _ => tracing::Span::none(),
    }
}

/// [`attach`] was given an id that is already attached.
///
/// ```
/// use memokit_core::telemetry::{attach, detach};
/// attach("doc-attach-error", |_| {}).unwrap();
/// let err = attach("doc-attach-error", |_| {}).unwrap_err();
/// assert_eq!(err.id(), "doc-attach-error");
/// assert!(err.to_string().contains("detach it first"));
/// detach("doc-attach-error");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachError {
    id: Box<str>,
}

impl AttachError {
    /// The id that is already taken.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a telemetry handler with id `{}` is already attached; detach it first or pick another id",
            self.id
        )
    }
}

impl std::error::Error for AttachError {}

/// Attaches `handler` under `id`: from now on it receives every [`Event`] of every cache.
///
/// Handlers run synchronously on the thread of the operation, in the order they were attached,
/// so keep them short (count, enqueue, log). Removal events run where the backend reports
/// removals, possibly under one of its locks: a handler must not call back into caches. Events
/// caused by a handler itself (it reads a cache) are not delivered, which rules out feedback
/// loops. A handler that panics is detached, the panic is reported (to `tracing` with the
/// `tracing` feature, else to stderr), and the cache operation goes on; under `panic = "abort"`
/// the process aborts as for any panic.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use memokit_core::Cache;
/// use memokit_core::telemetry::{self, EventKind, GetResult};
///
/// let misses = Arc::new(AtomicU64::new(0));
/// let seen = misses.clone();
/// telemetry::attach("doc-count-misses", move |event| {
///     if event.cache == "doc-attach" && matches!(event.kind, EventKind::Get(GetResult::Miss)) {
///         seen.fetch_add(1, Ordering::Relaxed);
///     }
/// })?;
/// let cache: Cache<u32, u32> = Cache::builder("doc-attach").build()?;
/// cache.get(&1)?;
/// assert!(telemetry::detach("doc-count-misses"));
/// assert_eq!(misses.load(Ordering::Relaxed), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn attach(
    id: &str,
    handler: impl Fn(&Event<'_>) + Send + Sync + 'static,
) -> Result<(), AttachError> {
    attach_plain(id, Box::new(handler), true)
}

/// Attaches `handler` under `id` as [`attach`] does, except that it receives no
/// [`EventKind::Get`] events.
#[cfg(feature = "metrics")]
pub(crate) fn attach_without_lookups(
    id: &str,
    handler: impl Fn(&Event<'_>) + Send + Sync + 'static,
) -> Result<(), AttachError> {
    attach_plain(id, Box::new(handler), false)
}

/// A handler that wants no load spans, receiving lookups or not.
fn attach_plain(
    id: &str,
    handler: Box<dyn Fn(&Event<'_>) + Send + Sync>,
    lookups: bool,
) -> Result<(), AttachError> {
    attach_handler(AttachedHandler {
        id: id.into(),
        handler,
        lookups,
        #[cfg(feature = "tracing")]
        wants_load_spans: false,
    })
}

/// Attaches `handler` under `id` as [`attach`] does; while it stays attached, loads run inside
/// the span `load_span` makes.
#[cfg(feature = "tracing")]
pub(crate) fn attach_with_load_span(
    id: &str,
    handler: impl Fn(&Event<'_>) + Send + Sync + 'static,
    load_span: LoadSpan,
) -> Result<(), AttachError> {
    LOAD_SPAN.get_or_init(|| load_span);
    attach_handler(AttachedHandler {
        id: id.into(),
        handler: Box::new(handler),
        lookups: true,
        wants_load_spans: true,
    })
}

fn attach_handler(attached: AttachedHandler) -> Result<(), AttachError> {
    let mut table = HANDLERS.write();
    if table.iter().any(|h| h.id == attached.id) {
        return Err(AttachError { id: attached.id });
    }
    let next: HandlerTable = table.iter().cloned().chain([Arc::new(attached)]).collect();
    publish(&mut table, next);
    Ok(())
}

/// Detaches the handler attached under `id`; whether there was one.
///
/// ```
/// use memokit_core::telemetry::{attach, detach};
/// attach("doc-detach", |_| {}).unwrap();
/// assert!(detach("doc-detach"));
/// assert!(!detach("doc-detach"));
/// ```
pub fn detach(id: &str) -> bool {
    detach_where(|h| *h.id == *id)
}

/// Whether a handler is attached under `id`.
///
/// ```
/// use memokit_core::telemetry::{attach, detach, is_attached};
/// assert!(!is_attached("doc-is-attached"));
/// attach("doc-is-attached", |_| {}).unwrap();
/// assert!(is_attached("doc-is-attached"));
/// detach("doc-is-attached");
/// ```
pub fn is_attached(id: &str) -> bool {
    HANDLERS.read().iter().any(|h| *h.id == *id)
}

fn detach_where(pred: impl Fn(&AttachedHandler) -> bool) -> bool {
    let mut table = HANDLERS.write();
    if !table.iter().any(|h| pred(h)) {
        return false;
    }
    let next: HandlerTable = table.iter().filter(|h| !pred(h)).cloned().collect();
    publish(&mut table, next);
    true
}

fn publish(table: &mut HandlerTable, next: HandlerTable) {
    ANY_ATTACHED.store(!next.is_empty(), Ordering::Relaxed);
    ANY_LOOKUPS.store(next.iter().any(|h| h.lookups), Ordering::Relaxed);
    #[cfg(feature = "tracing")]
    LOAD_SPANS.store(next.iter().any(|h| h.wants_load_spans), Ordering::Relaxed);
    *table = next;
    GENERATION.fetch_add(1, Ordering::Release);
}

/// Runs every attached handler on `event`, isolating each from the others' panics.
///
/// The common case (this thread's copy is current) is a generation compare and a loop of
/// indirect calls; refreshing the copy and reporting a panic are out of line.
pub(crate) fn dispatch(event: &Event<'_>) {
    let generation = GENERATION.load(Ordering::Acquire);
    // `try_with`: an event emitted while the thread tears down its locals is dropped.
    let _ = THREAD_TABLE.try_with(|local| {
        let Ok(mut local) = local.try_borrow_mut() else {
            return;
        };
        if local.generation != generation {
            local.refresh(generation);
        }
        let Some(table) = &local.table else { return };
        let lookup = matches!(event.kind, EventKind::Get(_));
        for attached in table.iter() {
            if lookup && !attached.lookups {
                continue;
            }
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (attached.handler)(event))) {
                handler_panicked(attached, event, &*panic);
            }
        }
    });
}

impl ThreadTable {
    #[cold]
    #[inline(never)]
    fn refresh(&mut self, generation: u64) {
        self.table = Some(HANDLERS.read().clone());
        self.generation = generation;
    }
}

/// Detaches a handler that panicked on `event` and reports it.
#[cold]
#[inline(never)]
fn handler_panicked(attached: &Arc<AttachedHandler>, event: &Event<'_>, panic: &(dyn Any + Send)) {
    // Detach this very handler, not whatever is attached under its id by now.
    detach_where(|h| std::ptr::eq(h, &**attached));
    report_panic(&attached.id, event.name(), panic);
}

fn report_panic(id: &str, event: &str, panic: &(dyn Any + Send)) {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    #[cfg(feature = "tracing")]
    tracing::error!(
        target: super::names::TRACING_TARGET,
        handler = id,
        event,
        "memokit: telemetry handler `{id}` panicked on `{event}` ({message}) and was detached"
    );
    #[cfg(not(feature = "tracing"))]
    eprintln!(
        "memokit: telemetry handler `{id}` panicked on `{event}` ({message}) and was detached"
    );
}
