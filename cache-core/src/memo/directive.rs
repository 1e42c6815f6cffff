//! Per-call directives: "run the body without the cache" and "reload this key now", aimed at one
//! memoized function for the duration of one call.
//!
//! A companion handle cannot call a memoized function's body itself: the body is the function,
//! with the user's argument list, and a handle has no typed path to it that works for free
//! functions, methods and trait methods alike. So the handle leaves a directive on the current
//! thread naming its cache, and the caller calls the function as usual
//! (`FETCH_MEMO.uncached(|| fetch(42))`). The function's lookup takes the directive if it names its
//! cache; every other memoized function called on the way ignores it. A guard restores the previous
//! state, panic or not, so a directive never outlives its call.
//!
//! The hit path pays one relaxed load of a global counter of live directives; the thread-local is
//! read only while one exists somewhere in the process.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// What a companion asks of the next lookup in its cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Directive {
    /// Skip the cache entirely: no lookup, no store.
    Uncached,
    /// Skip the lookup, run the body, store its result (subject to the function's rules).
    Refresh,
}

/// A directive for the cache identified by `target` (the address of its shared slot).
type Pending = Option<(usize, Directive)>;

/// Directives alive anywhere in the process; zero keeps the hit path off the thread-local.
static LIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static PENDING: Cell<Pending> = const { Cell::new(None) };
}

/// The directive left for `target` on this thread, consumed so it applies to one call only.
/// `target` is asked only while a directive exists, so the hit path does not compute it.
#[inline]
pub(crate) fn take(target: impl FnOnce() -> usize) -> Option<Directive> {
    if LIVE.load(Ordering::Relaxed) == 0 {
        return None;
    }
    PENDING.with(|pending| match pending.get() {
        Some((t, directive)) if t == target() => {
            pending.set(None);
            Some(directive)
        }
        _ => None,
    })
}

/// Leaves `pending` on this thread until dropped; the previous state comes back then.
struct Installed {
    previous: Pending,
}

impl Installed {
    fn new(pending: Pending) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Self {
            previous: PENDING.replace(pending),
        }
    }

    /// Uninstalls the directive, returning it if no lookup has taken it yet.
    fn finish(self) -> Pending {
        PENDING.get()
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        PENDING.set(self.previous);
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs `call` with `directive` aimed at `target`.
pub(crate) fn run<T>(target: usize, directive: Directive, call: impl FnOnce() -> T) -> T {
    let _installed = Installed::new(Some((target, directive)));
    call()
}

/// Polls `future` with `directive` aimed at `target` until the target's lookup consumes it.
pub(crate) fn run_async<F: Future>(
    target: usize,
    directive: Directive,
    future: F,
) -> impl Future<Output = F::Output> {
    Directed {
        future: Box::pin(future),
        pending: Some((target, directive)),
    }
}

struct Directed<F> {
    future: Pin<Box<F>>,
    pending: Pending,
}

impl<F: Future> Future for Directed<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // A task may move between threads between polls, so the directive is installed around
        // each poll and read back afterwards: once the lookup has taken it, it is gone for good.
        let installed = self.pending.map(|p| Installed::new(Some(p)));
        let poll = self.future.as_mut().poll(cx);
        if let Some(installed) = installed {
            self.pending = installed.finish();
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directive_applies_once_and_only_to_its_target() {
        run(1, Directive::Refresh, || {
            assert_eq!(take(|| 2), None);
            assert_eq!(take(|| 1), Some(Directive::Refresh));
            assert_eq!(take(|| 1), None);
        });
    }

    #[test]
    fn an_unconsumed_directive_is_gone_after_the_call() {
        run(7, Directive::Uncached, || {});
        assert_eq!(take(|| 7), None);
    }

    #[test]
    fn nested_directives_restore_the_outer_one() {
        run(1, Directive::Uncached, || {
            run(2, Directive::Refresh, || {
                assert_eq!(take(|| 2), Some(Directive::Refresh))
            });
            assert_eq!(take(|| 1), Some(Directive::Uncached));
        });
    }

    #[test]
    fn an_async_directive_survives_until_the_target_looks() {
        let seen = std::cell::Cell::new(None);
        let future = run_async(3, Directive::Uncached, async {
            std::future::ready(()).await;
            seen.set(take(|| 3));
        });
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut future = Box::pin(future);
        assert!(future.as_mut().poll(&mut cx).is_ready());
        assert_eq!(seen.get(), Some(Directive::Uncached));
        assert_eq!(take(|| 3), None);
    }
}
