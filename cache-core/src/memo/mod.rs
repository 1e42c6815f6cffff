//! Macro support for `#[cached]`: [`Memo`], the cache behind one memoized function and the
//! companion handle users hold, and the call path the expansion goes through.
//!
//! | file | what it holds |
//! |---|---|
//! | `handle.rs` | [`Memo`]: the static, built on first use; [`Companion`]: the handle, linked by id |
//! | `directive.rs` | per-call directives: "skip the cache", "reload this key now" |
//! | `companion.rs` | the companion handle's operations |
//! | `rules.rs` | a function's own rules for storing a result (`unless`, per-entry TTL) |
//! | `call.rs` | the call path: Memo::enter, finish_memoized (load on a miss), refresh a stale hit |
//! | `batch.rs` | the call path of `#[cached(batch)]`: many ids, one body run for the missing |
//!
//! # Design: one static, a companion linked by id
//!
//! `#[cached]` has to give the function body and the companion handle the same cache, from code
//! that cannot name each other reliably: a body in a free function reaches a sibling constant as
//! `NAME`, a body in an `impl` block needs `Self::NAME`, and an attribute cannot tell the two apart
//! (a receiver-less associated function looks exactly like a free function), nor add an item to a
//! trait impl at all. So the body keeps the one `static` [`Memo`] inside the function, which works
//! everywhere, and the companion constant is a [`Companion`]: plain data (an id made by the macro
//! from the module path, the function name and its source position, and how to build the cache),
//! no second static. The first of the two to be used builds the cache and publishes it under the
//! id, where the other finds it. The body's lookup happens once (a
//! [`OnceLock`](std::sync::OnceLock) caches it), so the hit path pays one atomic load, as a
//! `LazyLock` would; the companion looks its memo up by id on each use, off the hot path.
//!
//! Memos whose ids match but whose key, value or backend types differ (which the macro never
//! produces) do not share: each builds its own cache instead of failing.

mod batch;
mod call;
mod companion;
mod directive;
mod handle;
mod rules;

pub use batch::{BatchResult, batch, batch_async};
pub use call::{
    Body, Value, finish_memoized, finish_memoized_async, refresh_stale, refresh_stale_async,
};
pub use handle::{Companion, Memo};
pub use rules::{FnRules, NoRules, no_ttl, no_unless};
