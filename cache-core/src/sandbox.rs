//! Test sandboxes: every test gets its own namespace in every cache, and its own clock.
//!
//! Caches are global state. Without help, two tests that memoize the same function under the same
//! key see each other's values, so they must run one at a time or clear caches and hope. A
//! sandbox gives the current test a fresh [`Namespace`] that every cache (memoized functions,
//! cache modules, hand-built caches, any backend) consults on every operation:
//!
//! ```
//! use std::time::Duration;
//! use memokit_core::Cache;
//!
//! let users: Cache<u32, String> = Cache::builder("sandbox-doc-users")
//!     .ttl(Duration::from_secs(60))
//!     .build()?;
//! users.insert(1, "from outside".into())?;
//! {
//!     let sb = memokit_core::sandbox();
//!     assert_eq!(users.get(&1)?, None); // the outside value is invisible here
//!     users.insert(1, "ada".into())?;
//!     assert_eq!(sb.stats().inserts, 1); // what this sandbox did, over every cache
//!     sb.advance(Duration::from_secs(61)); // time travel instead of sleeping
//!     assert_eq!(users.get(&1)?, None);
//! } // the guard drops: the sandbox's entries are deleted in every cache
//! assert_eq!(users.get(&1)?.as_deref(), Some("from outside"));
//! # Ok::<(), memokit_core::CacheError>(())
//! ```
//!
//! In the `memokit` facade, `#[memokit::sandboxed]` on a test does the same for the whole test,
//! sync or async (under `#[tokio::test]`, either flavour).
//!
//! # What propagates, and what needs a helper
//!
//! The namespace and the clock live in thread-locals ([`crate::context`]), so **nothing crosses a
//! thread or task boundary on its own**:
//!
//! * code on the thread that entered the sandbox (including a runtime's `block_on` there) is in it;
//! * a `std::thread::spawn`ed thread starts outside it: use [`spawn`] (or
//!   [`SandboxHandle::spawn`]), or call [`SandboxHandle::enter`] first thing in the thread;
//! * a spawned task may be polled by any worker thread: wrap its future with
//!   [`.in_current_sandbox()`](InSandbox::in_current_sandbox) (or [`SandboxHandle::wrap`]), which
//!   enters the sandbox around every poll. On a current-thread runtime an unwrapped task may
//!   *happen* to see the sandbox, because it is polled on the test's thread; do not rely on it;
//! * memokit's own background work, the reloads of stale-while-revalidate, runs in the sandbox
//!   and with the clock of the caller that found the value stale: nothing to do.
//!
//! # Design
//!
//! * **Per-thread context, one load on the hit path.** Every cache reads the namespace on every
//!   call, so it is a `Cell<u64>` thread-local; outside tests the global namespace costs one
//!   thread-local load and a compare. ElixirCache keys its sandbox registry by process (an Elixir
//!   test is a process); a thread is the Rust analogue, and tasks get an explicit adapter, as
//!   `tracing` does with `Instrument` for spans.
//! * **Views, not key rewriting.** A cache keeps one backend view per live namespace
//!   ([`Backend::scoped`](crate::Backend::scoped)): a separate map in memory, a separate key
//!   prefix in Redis. Tearing a sandbox down is "remove the view and clear it", never a scan of
//!   other tests' data.
//! * **Teardown when the last holder lets go.** The guard, every [`SandboxHandle`] clone, every
//!   [`Entered`] guard and every wrapped future share one `Arc`; the namespace is deleted from
//!   every registered cache when the last of them drops (normally the test's guard, at the end of
//!   the test, panic or not). A straggler thread that still holds a handle therefore never writes
//!   into a namespace that was already torn down, which would leak its entries. Caches first
//!   built inside the sandbox are covered, since every cache registers itself when built.
//! * **Ids differ across processes.** The high half of a namespace id is random per process (32
//!   bits seeded from the OS and the pid), so parallel test binaries sharing one Redis server do
//!   not collide in practice.
//! * **Guards restore, panic or not.** Entering saves the previous namespace, clock and current
//!   sandbox; dropping the guard puts them back (drop guards in reverse order of creation, as
//!   scopes do).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::{self, ManualClock};
use crate::context::{self, Namespace};
use crate::registry;
use crate::stats::Stats;

/// What a sandbox's guard, handles and wrapped futures share. Dropping it tears the namespace down.
struct Shared {
    namespace: Namespace,
    clock: Arc<ManualClock>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Teardown runs in the namespace it deletes, so the events it causes (removals) are
        // attributed to the sandbox, not to whatever the dropping thread is in.
        let outer = context::replace_namespace(self.namespace);
        let errors = registry::drop_namespace(self.namespace);
        context::replace_namespace(outer);
        // A drop cannot return an error, and a leaked namespace in a test run is worth knowing
        // about: say which cache failed, on the test's captured stderr.
        for error in errors {
            eprintln!("memokit: tearing down sandbox {}: {error}", self.namespace);
        }
    }
}

fn next_namespace() -> Namespace {
    static PROCESS: LazyLock<u64> = LazyLock::new(|| {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.finish() >> 32
    });
    static NEXT: AtomicU64 = AtomicU64::new(1);
    loop {
        // The low half counts; skipping 0 keeps every id distinct from `Namespace::GLOBAL`.
        let low = NEXT.fetch_add(1, Ordering::Relaxed) & u64::from(u32::MAX);
        if low != 0 {
            return Namespace(*PROCESS << 32 | low);
        }
    }
}

thread_local! {
    /// The sandbox this thread is in, so [`current`] and [`spawn`] can hand it on.
    static CURRENT: RefCell<Option<SandboxHandle>> = const { RefCell::new(None) };
}

/// Gives the current thread a fresh sandbox until the returned guard drops: a namespace of its
/// own in every cache and a [`ManualClock`] of its own. Dropping the guard (panic or not) puts
/// back the thread's previous namespace and clock, and deletes the sandbox's entries from every
/// cache once no [`SandboxHandle`] to it is left. Guards nest.
///
/// Bind the guard to a named variable: `let _sb = sandbox();` lives to the end of the scope, while
/// `let _ = sandbox();` drops it at once.
///
/// ```
/// use memokit_core::{Cache, Namespace, context};
/// let cache: Cache<String, u32> = Cache::builder("sandbox-fn-doc").build()?;
/// let outer = memokit_core::sandbox();
/// cache.insert("k".to_string(), 1)?;
/// {
///     let inner = memokit_core::sandbox();
///     assert_ne!(inner.namespace(), outer.namespace());
///     assert_eq!(cache.get("k")?, None);
/// }
/// assert_eq!(context::namespace(), outer.namespace());
/// assert_eq!(cache.get("k")?, Some(1));
/// drop(outer);
/// assert_eq!(context::namespace(), Namespace::GLOBAL);
/// # Ok::<(), memokit_core::CacheError>(())
/// ```
pub fn sandbox() -> Sandbox {
    let handle = SandboxHandle::new();
    Sandbox {
        entered: handle.enter(),
        handle,
    }
}

/// The guard of a sandbox entered on this thread; see [`sandbox`]. It dereferences to the
/// sandbox's [`SandboxHandle`] for the clock, the stats and the propagation helpers.
#[must_use = "the sandbox ends when the guard drops: bind it with `let _sb = memokit::sandbox();`"]
pub struct Sandbox {
    // Field order matters: the context is restored before this handle's reference is released.
    entered: Entered,
    handle: SandboxHandle,
}

impl Sandbox {
    /// A handle to this sandbox, to enter it from other threads and tasks.
    ///
    /// ```
    /// let sb = memokit_core::sandbox();
    /// let handle = sb.handle();
    /// let seen = std::thread::spawn(move || {
    ///     let _in = handle.enter();
    ///     memokit_core::context::namespace()
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(seen, sb.namespace());
    /// ```
    pub fn handle(&self) -> SandboxHandle {
        self.handle.clone()
    }
}

impl Deref for Sandbox {
    type Target = SandboxHandle;

    fn deref(&self) -> &SandboxHandle {
        &self.handle
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("namespace", &self.handle.namespace())
            .field("entered", &self.entered)
            .finish()
    }
}

/// A shareable reference to one sandbox: enter it on another thread, wrap a future to run in it,
/// advance its clock, read its stats. Cloning is cheap; the sandbox's data lives until its guard
/// and every handle are gone.
///
/// ```
/// use std::time::Duration;
/// use memokit_core::{Cache, sandbox::SandboxHandle};
///
/// let cache: Cache<u8, u8> = Cache::builder("handle-doc").ttl(Duration::from_secs(10)).build()?;
/// let handle = SandboxHandle::new(); // a sandbox nobody has entered yet
/// {
///     let _in = handle.enter();
///     cache.insert(1, 1)?;
/// }
/// assert_eq!(cache.get(&1)?, None); // outside again
/// handle.advance(Duration::from_secs(11));
/// let _in = handle.enter();
/// assert_eq!(cache.get(&1)?, None); // expired on the sandbox's clock
/// assert_eq!(handle.stats().inserts, 1);
/// # Ok::<(), memokit_core::CacheError>(())
/// ```
#[derive(Clone)]
pub struct SandboxHandle(Arc<Shared>);

impl SandboxHandle {
    /// A fresh sandbox, entered nowhere yet: a new namespace and a new [`ManualClock`] reading
    /// the real time now.
    pub fn new() -> Self {
        Self(Arc::new(Shared {
            namespace: next_namespace(),
            clock: ManualClock::new(),
        }))
    }

    /// The sandbox's namespace (its id is the sandbox id in stats and telemetry events).
    pub fn namespace(&self) -> Namespace {
        self.0.namespace
    }

    /// The sandbox's clock: it stands still unless [advanced](Self::advance).
    pub fn clock(&self) -> &Arc<ManualClock> {
        &self.0.clock
    }

    /// Moves the sandbox's clock forward by `by`, so TTLs and idle times pass at once. Every
    /// thread and task in the sandbox sees the new time.
    pub fn advance(&self, by: Duration) {
        self.0.clock.advance(by);
    }

    /// What this sandbox did so far, summed over every cache: hits, misses, inserts and loads made
    /// inside it, and the entries it holds.
    pub fn stats(&self) -> Stats {
        registry::stats_in(self.0.namespace)
    }

    /// Enters the sandbox on the current thread until the guard drops, which restores the
    /// thread's previous namespace and clock (panic or not).
    pub fn enter(&self) -> Entered {
        Captured::of(self).enter()
    }

    /// Runs `future` inside the sandbox: the sandbox is entered around every poll, on whichever
    /// thread polls it, and around the future's drop.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// # async fn main() {
    /// use memokit_core::context;
    /// let sb = memokit_core::sandbox();
    /// let ns = sb.namespace();
    /// let task = tokio::spawn(sb.wrap(async move { context::namespace() }));
    /// assert_eq!(task.await.unwrap(), ns);
    /// # }
    /// ```
    pub fn wrap<F: Future>(&self, future: F) -> Sandboxed<F> {
        Sandboxed::new(Captured::of(self), future)
    }

    /// Spawns a thread that runs `f` inside the sandbox; see [`std::thread::spawn`].
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_in(Captured::of(self), f)
    }
}

impl Default for SandboxHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SandboxHandle")
            .field(&self.0.namespace)
            .finish()
    }
}

/// The sandbox the current thread is in, if any.
///
/// ```
/// assert!(memokit_core::sandbox::current().is_none());
/// let sb = memokit_core::sandbox();
/// assert_eq!(memokit_core::sandbox::current().map(|h| h.namespace()), Some(sb.namespace()));
/// ```
pub fn current() -> Option<SandboxHandle> {
    CURRENT.with_borrow(Clone::clone)
}

/// Spawns a thread that runs `f` in the current thread's sandbox (or outside any, if there is
/// none), with its clock: a drop-in for [`std::thread::spawn`] in sandboxed tests.
///
/// ```
/// use memokit_core::context;
/// let sb = memokit_core::sandbox();
/// let seen = memokit_core::sandbox::spawn(context::namespace).join().unwrap();
/// assert_eq!(seen, sb.namespace());
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_in(Captured::current(), f)
}

fn spawn_in<F, T>(context: Captured, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let _entered = context.enter();
        f()
    })
}

/// Runs futures in a sandbox: `.in_current_sandbox()` captures the sandbox (and the clock) of the
/// thread that creates the adapter, and enters them around every poll, wherever the future is
/// polled.
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// use memokit_core::{context, sandbox::InSandbox};
/// let sb = memokit_core::sandbox();
/// let task = tokio::spawn(async { context::namespace() }.in_current_sandbox());
/// assert_eq!(task.await.unwrap(), sb.namespace());
/// # }
/// ```
pub trait InSandbox: Future + Sized {
    /// Runs the future in the sandbox current on this thread now (or outside any sandbox, if
    /// there is none, even when it is later polled on a thread that is in one).
    fn in_current_sandbox(self) -> Sandboxed<Self> {
        Sandboxed::new(Captured::current(), self)
    }
}

impl<F: Future> InSandbox for F {}

/// A future that runs in a sandbox; from [`SandboxHandle::wrap`] or
/// [`InSandbox::in_current_sandbox`].
#[must_use = "futures do nothing unless polled"]
pub struct Sandboxed<F> {
    context: Captured,
    // Boxed to stay clear of unsafe pin projection; one allocation per wrapped test or task is
    // nothing next to what a test does. `None` once the future has completed.
    future: Option<Pin<Box<F>>>,
}

impl<F: Future> Sandboxed<F> {
    fn new(context: Captured, future: F) -> Self {
        Self {
            context,
            future: Some(Box::pin(future)),
        }
    }
}

impl<F: Future> Future for Sandboxed<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _entered = this.context.enter();
        let Some(future) = this.future.as_mut() else {
            panic!("`Sandboxed` future polled after it completed");
        };
        let output = future.as_mut().poll(cx);
        if output.is_ready() {
            // Its locals drop now, inside the sandbox, rather than whenever the wrapper does.
            this.future = None;
        }
        output
    }
}

impl<F> Drop for Sandboxed<F> {
    fn drop(&mut self) {
        if self.future.is_some() {
            let _entered = self.context.enter();
            self.future = None;
        }
    }
}

impl<F> fmt::Debug for Sandboxed<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandboxed")
            .field("sandbox", &self.context.sandbox)
            .field("done", &self.future.is_none())
            .finish()
    }
}

/// Keeps a sandbox entered on this thread; dropping it restores the previous namespace, clock
/// and current sandbox. From [`SandboxHandle::enter`]. It cannot leave its thread.
#[must_use = "the sandbox is left when the guard drops: bind it with `let _in = handle.enter();`"]
pub struct Entered {
    previous: Option<Previous>,
    /// The saved state belongs to this thread's context.
    _not_send: PhantomData<*const ()>,
}

struct Previous {
    sandbox: Option<SandboxHandle>,
    namespace: Namespace,
    clock: Option<Arc<ManualClock>>,
}

/// A thread's whole context, its sandbox (if any) and its manual clock (if any), captured to be
/// entered on another thread or around a future's polls. memokit's own background work (refresh
/// reloads) carries it the same way, so a reload runs in the sandbox of the test that caused it.
#[derive(Clone)]
pub(crate) struct Captured {
    sandbox: Option<SandboxHandle>,
    clock: Option<Arc<ManualClock>>,
}

impl Captured {
    /// The context of the current thread.
    pub(crate) fn current() -> Self {
        Self {
            sandbox: current(),
            clock: clock::installed(),
        }
    }

    /// `sandbox` with its own clock.
    fn of(sandbox: &SandboxHandle) -> Self {
        Self {
            clock: Some(sandbox.0.clock.clone()),
            sandbox: Some(sandbox.clone()),
        }
    }

    /// This context held without keeping its sandbox alive, for work that lives as long as a
    /// cache rather than a test (a warmer): the sandbox still ends with its test.
    pub(crate) fn downgrade(&self) -> WeakCaptured {
        WeakCaptured {
            sandbox: self.sandbox.as_ref().map(|s| Arc::downgrade(&s.0)),
            clock: self.clock.clone(),
        }
    }

    /// `future`, run in this context around every poll.
    #[cfg(feature = "tokio")]
    pub(crate) fn wrap<F: Future>(self, future: F) -> Sandboxed<F> {
        Sandboxed::new(self, future)
    }

    /// Makes this the current thread's context until the guard drops, saving the old one.
    pub(crate) fn enter(&self) -> Entered {
        let namespace = self
            .sandbox
            .as_ref()
            .map_or(Namespace::GLOBAL, SandboxHandle::namespace);
        let sandbox = self.sandbox.clone();
        let previous = Previous {
            namespace: context::replace_namespace(namespace),
            clock: clock::replace_installed(self.clock.clone()),
            sandbox: CURRENT.with_borrow_mut(|c| std::mem::replace(c, sandbox)),
        };
        Entered {
            previous: Some(previous),
            _not_send: PhantomData,
        }
    }
}

/// A [`Captured`] context whose sandbox may have ended; see [`Captured::downgrade`].
pub(crate) struct WeakCaptured {
    sandbox: Option<Weak<Shared>>,
    clock: Option<Arc<ManualClock>>,
}

impl WeakCaptured {
    /// The context, or `None` if its sandbox has ended (its namespace is gone for good).
    pub(crate) fn upgrade(&self) -> Option<Captured> {
        let sandbox = match &self.sandbox {
            Some(weak) => Some(SandboxHandle(weak.upgrade()?)),
            None => None,
        };
        Some(Captured {
            sandbox,
            clock: self.clock.clone(),
        })
    }

    /// The manual clock of the context, if it had one.
    pub(crate) fn clock(&self) -> Option<&Arc<ManualClock>> {
        self.clock.as_ref()
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let Some(previous) = self.previous.take() else {
            return;
        };
        context::replace_namespace(previous.namespace);
        clock::replace_installed(previous.clock);
        let left = CURRENT.with_borrow_mut(|c| std::mem::replace(c, previous.sandbox));
        // Released outside the borrow: if it was the last reference, teardown runs now.
        drop(left);
    }
}

impl fmt::Debug for Entered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entered")
            .field("previous", &self.previous.as_ref().map(|p| p.namespace))
            .finish()
    }
}

/// The panic of a cache declared `sandbox = "required"` used outside any sandbox.
#[cold]
#[inline(never)]
pub(crate) fn used_outside(cache: &str) -> ! {
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("<unnamed>");
    panic!(
        "cache `{cache}` requires a test sandbox (it is declared with `sandbox = \"required\"`) \
         but was used outside one, on thread `{thread}`. Start the test with \
         `let _sb = memokit::sandbox();` or mark it `#[memokit::sandboxed]`; in threads and tasks \
         the test spawns, join its sandbox with `memokit::sandbox::spawn`, \
         `SandboxHandle::enter` or `.in_current_sandbox()`"
    )
}
